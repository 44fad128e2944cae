"""Signing in makes an agent Available on the PBX, breaks pause with the reason, signing out logs out;
every change is recorded, and a PBX that is down never stops a sign-in."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from agents import services
from agents.models import AgentStatusEvent, Availability, PauseReason, StatusSource, SyncState
from telephony import services as telephony_services
from telephony import tasks
from telephony.models import LogoutAction, Queue
from tests.factories import PASSWORD, PbxServerFactory, agent_on, ami_state


def sign_in(client, agent, capture):
    with capture(execute=True):
        return client.post("/accounts/login/", {"username": agent.user.username, "password": PASSWORD})


def history(agent):
    return [
        (e.from_availability, e.to_availability, e.reason, e.source, e.actor_id)
        for e in AgentStatusEvent.objects.filter(agent=agent).order_by("pk")
    ]


def test_sign_in_break_and_sign_out_on_asterisk(client, sim, ast_pbx, django_capture_on_commit_callbacks):
    agent = agent_on(ast_pbx, availability=Availability.LOGGED_OUT)
    response = sign_in(client, agent, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response.url == "/dashboard/"
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    agent.refresh_from_db()
    assert (agent.availability, agent.sync_state) == (Availability.AVAILABLE, SyncState.APPLIED)

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/dashboard/status/", {"status": "on_break", "reason": "Lunch"})
    assert ami_state(sim) == {"support": (True, "Lunch"), "sales": (True, "Lunch")}

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/logout/")
    assert ami_state(sim) == {}
    uid = agent.user_id
    assert history(agent) == [
        ("logged_out", "available", "", "agent", uid),
        ("available", "on_break", "Lunch", "agent", uid),
        ("on_break", "logged_out", "", "agent", uid),
    ]


def test_sign_in_break_and_sign_out_on_freeswitch(client, sim, fs_pbx, django_capture_on_commit_callbacks):
    agent = agent_on(fs_pbx, availability=Availability.LOGGED_OUT)
    fs = sim.sim.esl.agents["2001@default"]
    sign_in(client, agent, django_capture_on_commit_callbacks)
    assert fs.status == "Available"
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/dashboard/status/", {"status": "on_break", "reason": "Training"})
    assert fs.status == "On Break"
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/logout/")
    assert fs.status == "Logged Out"
    assert [e[1] for e in history(agent)] == ["available", "on_break", "logged_out"]


def sign_out(client, capture):
    with capture(execute=True):
        client.post("/accounts/logout/")


def test_a_static_member_cannot_leave_its_queue_and_is_paused_as_logged_out(
    client, sim, ast_pbx, django_capture_on_commit_callbacks
):
    sim.sim.ami.static = {"support": ["PJSIP/2001"]}
    sim.run(sim.sim.ami.reset)  # as if Asterisk had 2001 in queues.conf for support
    agent = agent_on(ast_pbx, availability=Availability.LOGGED_OUT)
    sign_in(client, agent, django_capture_on_commit_callbacks)
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    sign_out(client, django_capture_on_commit_callbacks)
    assert ami_state(sim) == {"support": (True, "Logged Out")}  # removed from sales, kept but paused in support
    agent.refresh_from_db()
    assert (agent.availability, agent.sync_state) == (Availability.LOGGED_OUT, SyncState.APPLIED)
    assert telephony_services.pbx_reconcile(pbx_id=ast_pbx.pk) == []  # the PBX agrees: logged out
    sign_in(client, agent, django_capture_on_commit_callbacks)
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}


def test_a_queue_may_keep_logged_out_agents_paused_instead(client, sim, ast_pbx, django_capture_on_commit_callbacks):
    agent = agent_on(ast_pbx, availability=Availability.LOGGED_OUT)
    Queue.objects.filter(pbx=ast_pbx, name="sales").update(on_logout=LogoutAction.PAUSE)
    sign_in(client, agent, django_capture_on_commit_callbacks)
    sign_out(client, django_capture_on_commit_callbacks)
    assert ami_state(sim) == {"sales": (True, "Logged Out")}
    assert telephony_services.pbx_reconcile(pbx_id=ast_pbx.pk) == []
    sim.run(sim.sim.ami.reset)  # an Asterisk restart forgets dynamic members: out of the queue is logged out too
    assert telephony_services.pbx_reconcile(pbx_id=ast_pbx.pk) == [] and ami_state(sim) == {}
    sign_in(client, agent, django_capture_on_commit_callbacks)
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}


def test_logged_out_is_not_a_pause_reason_a_supervisor_can_define(db):
    with pytest.raises(ValidationError, match="logged-out agent"):
        PauseReason(name="logged out").full_clean()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sign_in_succeeds_while_the_pbx_is_down_and_reconciliation_applies_it_later(
    client, db, sim, django_capture_on_commit_callbacks
):
    pbx = PbxServerFactory(name="down", kind="asterisk", port=_closed_port(), username="mayday", secret="mayday")
    agent = agent_on(pbx, availability=Availability.LOGGED_OUT)
    response = sign_in(client, agent, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response.url == "/dashboard/"
    agent.refresh_from_db()
    assert agent.availability == Availability.AVAILABLE
    assert agent.sync_state == SyncState.PENDING and "will retry" in agent.sync_error
    page = client.get("/dashboard/").content.decode()
    assert '"sync_state": "pending"' in page and "will retry" in page  # the banner's data

    pbx.port = sim.sim.ami_port  # the PBX is back
    pbx.save()
    tasks.poll_pbx.delay(pbx.pk)
    agent.refresh_from_db()
    assert (agent.sync_state, agent.sync_error) == (SyncState.APPLIED, "")
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}


def test_a_refused_request_shows_failed_with_the_pbx_words(sim, fs_pbx, django_capture_on_commit_callbacks):
    agent = agent_on(fs_pbx, extension="7777", availability=Availability.LOGGED_OUT, queues=("support", "nowhere"))
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_sign_in(agent=agent, actor=agent.user)  # FreeSWITCH has no queue "nowhere"
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.FAILED and "Queue not found" in agent.sync_error


@pytest.mark.parametrize(
    ("availability", "reason", "message"),
    [
        ("busy", None, "Unknown status 'busy'"),
        ("on_break", "Nap", "Unknown pause reason 'Nap'"),
        ("available", "Lunch", "A reason goes only with on_break"),
    ],
)
def test_bad_requests_change_nothing_and_send_nothing(sim, ast_pbx, availability, reason, message):
    agent = agent_on(ast_pbx, availability=Availability.AVAILABLE)
    before = len(sim.sim.ami.actions)
    with pytest.raises(ValidationError, match=message):
        services.agent_request_status(agent=agent, availability=availability, reason=reason, source=StatusSource.API)
    agent.refresh_from_db()
    assert (agent.availability, agent.request_seq, agent.sync_state) == ("available", 0, SyncState.APPLIED)
    assert not AgentStatusEvent.objects.exists() and len(sim.sim.ami.actions) == before


def test_a_break_without_a_reason_takes_the_first_active_one(sim, ast_pbx, django_capture_on_commit_callbacks):
    agent = agent_on(ast_pbx)
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_request_status(agent=agent, availability="on_break", source=StatusSource.API)
    assert ami_state(sim) == {"support": (True, "Break"), "sales": (True, "Break")}


def test_a_late_command_result_does_not_mark_a_newer_request_applied(sim, ast_pbx, django_capture_on_commit_callbacks):
    agent = agent_on(ast_pbx, availability=Availability.LOGGED_OUT)
    with django_capture_on_commit_callbacks(execute=False):
        first = services.agent_sign_in(agent=agent, actor=None)
        services.agent_request_status(agent=agent, availability="on_break", reason="Lunch", source=StatusSource.API)
    tasks.apply_agent_status.delay(agent.pk, first.request_seq)  # the first request's task runs late
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.PENDING  # it pushed the current wish, but only its own task confirms it
    tasks.apply_agent_status.delay(agent.pk, agent.request_seq)
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.APPLIED
    assert ami_state(sim) == {"support": (True, "Lunch"), "sales": (True, "Lunch")}


def test_asking_for_the_current_state_resends_it_without_a_history_row(
    sim, ast_pbx, django_capture_on_commit_callbacks
):
    agent = agent_on(ast_pbx, availability=Availability.AVAILABLE)  # the PBX does not have it yet
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_sign_in(agent=agent, actor=agent.user)
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    assert not AgentStatusEvent.objects.exists()
