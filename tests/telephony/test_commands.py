"""Commands to the PBX: applied through tasks, retried while the PBX is down, repaired by reconciliation."""

from __future__ import annotations

import re
import time
from io import StringIO

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents.models import Agent, Availability, SyncState
from mayday.celery import app as celery_app
from telephony import tasks
from telephony.models import PbxServer, QueueMembership
from telephony.pbx.base import backend_for
from tests.factories import MembershipFactory, PauseReasonFactory, QueueFactory, agent_on, ami_state
from tests.waiting import wait_for


def test_agent_status_task_applies_each_availability_on_asterisk(sim, ast_pbx):
    agent = agent_on(ast_pbx, availability=Availability.AVAILABLE)
    tasks.apply_agent_status.delay(agent.pk)
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    Agent.objects.filter(pk=agent.pk).update(
        availability=Availability.ON_BREAK, pause_reason=PauseReasonFactory(name="Lunch")
    )
    tasks.apply_agent_status.delay(agent.pk)
    assert ami_state(sim) == {"support": (True, "Lunch"), "sales": (True, "Lunch")}
    Agent.objects.filter(pk=agent.pk).update(availability=Availability.LOGGED_OUT)
    tasks.apply_agent_status.delay(agent.pk)
    assert ami_state(sim) == {}
    agent.refresh_from_db()
    assert (agent.sync_state, agent.sync_error) == (SyncState.APPLIED, "")


def test_agent_status_task_applies_each_availability_on_freeswitch(sim, fs_pbx):
    agent = agent_on(fs_pbx, availability=Availability.ON_BREAK, reason="Lunch")
    tasks.apply_agent_status.delay(agent.pk)
    esl = sim.sim.esl
    assert esl.agents["2001@default"].status == "On Break"
    assert {q for (q, a) in esl.tiers if a == "2001@default"} == {"support@default", "sales@default"}
    Agent.objects.filter(pk=agent.pk).update(availability=Availability.AVAILABLE)
    tasks.apply_agent_status.delay(agent.pk)
    assert esl.agents["2001@default"].status == "Available"


def test_a_refusal_is_recorded_as_failed_with_the_pbx_words(sim, fs_pbx):
    agent = agent_on(fs_pbx, extension="3999", queues=("nowhere",))  # a queue this FreeSWITCH does not have
    tasks.apply_agent_status.delay(agent.pk)
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.FAILED and "Queue not found" in agent.sync_error


def test_pbx_down_inline_leaves_the_change_pending_for_reconciliation(sim, ast_pbx):
    agent = agent_on(ast_pbx)
    sim.run(sim.sim.stop)
    tasks.apply_agent_status.delay(agent.pk)  # must not raise: the page that asked must not break
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.PENDING and "cannot reach AMI" in agent.sync_error
    sim.run(sim.sim.start)
    assert tasks.poll_pbx.delay(ast_pbx.pk).get() == ["2001: PBX shows logged_out, wanted available"]
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.APPLIED


@pytest.fixture
def worker(settings):
    """A real Celery worker (in-memory broker, solo pool) so retries wait their backoff as in production."""
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(celery_app, perform_ping_check=False, loglevel="error"):
            yield
    finally:
        celery_app.conf.task_always_eager = True


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_command_sent_while_the_pbx_is_down_is_retried_and_applied_once(sim, ast_pbx, worker):
    agent = agent_on(ast_pbx, availability=Availability.ON_BREAK, reason="Lunch")
    sim.run(sim.sim.stop)
    tasks.apply_agent_status.delay(agent.pk)
    # The first attempt fails and a retry is scheduled (whenever the worker, busy with what came before, gets to it).
    wait_for(
        lambda: (a := Agent.objects.get(pk=agent.pk)).sync_state == SyncState.PENDING and "retrying" in a.sync_error,
        what="the first attempt failed, a retry scheduled",
    )
    sim.run(sim.sim.start)
    deadline = time.monotonic() + 20
    while Agent.objects.get(pk=agent.pk).sync_state != SyncState.APPLIED and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Agent.objects.get(pk=agent.pk).sync_state == SyncState.APPLIED
    assert ami_state(sim) == {"support": (True, "Lunch"), "sales": (True, "Lunch")}
    pauses = [a for a in sim.sim.ami.actions if a["action"] == "QueuePause" and a["interface"] == "PJSIP/2001"]
    assert len(pauses) == 1  # applied exactly once


def test_reconciliation_repairs_a_drifted_pause(sim, ast_pbx):
    agent = agent_on(ast_pbx, availability=Availability.ON_BREAK, reason="Lunch")
    tasks.apply_agent_status.delay(agent.pk)
    with backend_for(ast_pbx) as pbx:  # someone unpauses the member in one queue behind our back
        pbx.member_pause(extension="2001", paused=False, queue="sales")
    assert ami_state(sim)["sales"] == (False, "")
    found = tasks.poll_pbx.delay(ast_pbx.pk).get()
    assert found == ["2001: PBX shows mixed, wanted on_break Lunch"]
    assert ami_state(sim) == {"support": (True, "Lunch"), "sales": (True, "Lunch")}
    row = PbxServer.objects.get(pk=ast_pbx.pk)
    assert row.drift == found[0] and row.last_reconciled_at is not None
    assert tasks.poll_pbx.delay(ast_pbx.pk).get() == []  # nothing left to repair
    assert PbxServer.objects.get(pk=ast_pbx.pk).drift == ""


def test_reconciliation_repairs_freeswitch_status_drift(sim, fs_pbx):
    agent = agent_on(fs_pbx, availability=Availability.AVAILABLE)
    tasks.apply_agent_status.delay(agent.pk)
    sim.run(sim.sim.esl.set_status, sim.sim.esl.agents["2001@default"], "On Break")
    assert tasks.poll_pbx.delay(fs_pbx.pk).get() == ["2001: PBX shows on_break, wanted available"]
    assert sim.sim.esl.agents["2001@default"].status == "Available"


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_a_reconciliation_reads_the_memberships_once_and_records_what_the_pbx_shows(sim, ast_pbx, fs_pbx, kind):
    pbx = ast_pbx if kind == "asterisk" else fs_pbx
    agent = agent_on(pbx)
    tasks.apply_agent_status.delay(agent.pk)
    tasks.poll_pbx.delay(pbx.pk)  # the agent's presence is read (whole documents announced from the database)
    QueueMembership.objects.filter(agent=agent).update(on_pbx=False, paused=True)  # observations gone stale
    with CaptureQueriesContext(connection) as queries:
        assert tasks.poll_pbx.delay(pbx.pk).get() == []
    reads = [q["sql"] for q in queries if re.match(r'SELECT .* FROM [`"]telephony_queuemembership[`"]', q["sql"])]
    assert len(reads) == 1
    assert set(QueueMembership.objects.filter(agent=agent).values_list("on_pbx", "paused")) == {(True, False)}


def test_adding_a_membership_joins_a_signed_in_agent_to_the_queue(sim, ast_pbx, django_capture_on_commit_callbacks):
    agent = agent_on(ast_pbx, queues=("support",))
    tasks.apply_agent_status.delay(agent.pk)
    with django_capture_on_commit_callbacks(execute=True):
        MembershipFactory(agent=agent, queue=QueueFactory(name="sales", pbx=ast_pbx))
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    with django_capture_on_commit_callbacks(execute=True):
        agent.memberships.get(queue__name="sales").delete()
    assert ami_state(sim) == {"support": (False, "")}


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_pbx_check_prints_a_summary(sim, ast_pbx, fs_pbx, kind):
    pbx = ast_pbx if kind == "asterisk" else fs_pbx
    agent = agent_on(pbx)
    tasks.apply_agent_status.delay(agent.pk)
    out = StringIO()
    call_command("pbx_check", pbx.name, stdout=out)
    text = out.getvalue()
    assert f"{pbx.name}: " in text and "answers" in text
    assert "support: 1 member(s)" in text and "2001: ready" in text


def test_pbx_check_fails_with_the_pbx_error(sim, ast_pbx):
    PbxServer.objects.filter(pk=ast_pbx.pk).update(secret="wrong")
    with pytest.raises(CommandError, match="Authentication failed"):
        call_command("pbx_check", ast_pbx.name)
    with pytest.raises(CommandError, match="No PBX server named"):
        call_command("pbx_check", "nope")


def test_admin_test_connection_action(client, supervisor, sim, ast_pbx, fs_pbx):
    PbxServer.objects.filter(pk=fs_pbx.pk).update(secret="wrong")
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:telephony_pbxserver_changelist"),
        {"action": "test_connection", "index": 0, "_selected_action": [ast_pbx.pk, fs_pbx.pk]},
        follow=True,
    )
    text = response.content.decode()
    # The whole result, each PBX named as it is spelled.
    assert "ast: Asterisk (AMI) at 127.0.0.1" in text and "answers; 2 queue(s)" in text
    assert "  support: " in text and "  sales: " in text  # every line, not the first three
    assert "fs · FreeSWITCH (ESL)" in text and "ESL authentication failed: -ERR invalid" in text
