"""A lane keeps its PBX connections between commands: one login, not one per command; never a stale one, and
none left open at a PBX once the lane is idle."""

from __future__ import annotations

import pytest

from agents.models import Agent, Availability, SyncState
from telephony import tasks
from telephony.pbx import base
from telephony.pbx.base import PbxError, close_kept, command_backend, keep_connections
from tests.factories import agent_on, ami_state
from tests.waiting import wait_for


def logins(sim, kind: str) -> int:
    if kind == "asterisk":
        return sum(action["action"].lower() == "login" for action in sim.sim.ami.actions)
    return sum(command.startswith("auth ") for command in sim.sim.esl.commands)


def sessions(sim, kind: str) -> int:
    return len((sim.sim.ami if kind == "asterisk" else sim.sim.esl).sessions)


@pytest.fixture(params=["asterisk", "freeswitch"])
def pbx(request, sim):
    return request.getfixturevalue("ast_pbx" if request.param == "asterisk" else "fs_pbx")


@pytest.fixture
def keeping():
    """The test's thread keeps its command connections, as a lane does."""
    keep_connections()
    yield
    close_kept()
    base._KEPT.on = False


def test_an_agent_s_changes_share_one_login(keeping, sim, pbx):
    agent = agent_on(pbx, extension="2001")
    for availability in (Availability.AVAILABLE, Availability.ON_BREAK, Availability.AVAILABLE):
        Agent.objects.filter(pk=agent.pk).update(availability=availability)
        tasks.apply_agent_status.delay(agent.pk)
        agent.refresh_from_db()
        assert agent.sync_state == SyncState.APPLIED, agent.sync_error
    assert logins(sim, pbx.kind) == 1 and sessions(sim, pbx.kind) == 1
    if pbx.kind == "asterisk":
        assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    else:
        assert sim.sim.esl.agents["2001@default"].status == "Available"


def test_a_pbx_that_restarted_between_commands_gets_a_fresh_connection_and_the_command(keeping, sim, pbx):
    with command_backend(pbx) as backend:
        backend.ping()
    sim.run(sim.sim.restart)
    with command_backend(pbx) as backend:  # the old one saw the PBX close it: not used, no error
        backend.ping()
    assert logins(sim, pbx.kind) == 2
    wait_for(lambda: sessions(sim, pbx.kind) == 1, 3, "one connection, the fresh one")


def test_new_credentials_are_used_at_once(keeping, sim, pbx):
    with command_backend(pbx) as backend:
        backend.ping()
    pbx.secret = "wrong"
    with pytest.raises(PbxError) as exc:  # not the connection opened with the old secret
        with command_backend(pbx) as backend:
            backend.ping()
    assert exc.value.retryable is False
    wait_for(lambda: sessions(sim, pbx.kind) == 0, 3, "the old connection to close")


def test_a_connection_idle_too_long_is_closed_and_replaced(keeping, sim, pbx, monkeypatch):
    with command_backend(pbx) as backend:
        backend.ping()
    monkeypatch.setattr(base, "KEEP_IDLE_SECONDS", 0.0)
    with command_backend(pbx) as backend:
        backend.ping()
    assert logins(sim, pbx.kind) == 2
    wait_for(lambda: sessions(sim, pbx.kind) == 1, 3, "the idle connection to close")


def test_after_a_failed_command_the_next_one_logs_in_afresh(keeping, sim, pbx, monkeypatch):
    from telephony.pbx import asterisk, freeswitch

    monkeypatch.setattr(asterisk, "COMMAND_TIMEOUT", 0.5)
    monkeypatch.setattr(freeswitch, "COMMAND_TIMEOUT", 0.5)
    server = sim.sim.ami if pbx.kind == "asterisk" else sim.sim.esl
    with command_backend(pbx) as backend:
        backend.ping()
    server.frozen = True  # hangs: the command fails at its timeout, visibly
    with pytest.raises(PbxError, match="no answer") as exc:
        with command_backend(pbx) as backend:
            backend.ping()
    assert exc.value.retryable
    server.frozen = False
    with command_backend(pbx) as backend:  # not the connection whose answer may still come
        backend.ping()
    assert logins(sim, pbx.kind) == 2
    wait_for(lambda: sessions(sim, pbx.kind) == 1, 3, "the failed connection to close")


def test_a_pbx_that_went_down_fails_visibly_and_keeps_nothing(keeping, sim, ast_pbx):
    agent = agent_on(ast_pbx, extension="2001")
    tasks.apply_agent_status.delay(agent.pk)
    sim.run(sim.sim.stop)
    Agent.objects.filter(pk=agent.pk).update(availability=Availability.ON_BREAK)
    tasks.apply_agent_status.delay(agent.pk)
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.PENDING and "cannot reach AMI" in agent.sync_error
    sim.run(sim.sim.start)
    tasks.apply_agent_status.delay(agent.pk)
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.APPLIED
    assert ami_state(sim) == {"support": (True, ""), "sales": (True, "")}


def test_a_thread_that_keeps_nothing_opens_a_connection_per_block(sim, pbx):
    for _ in range(2):  # a reconciliation, a worker's task: they come seconds apart, and log in each time
        with command_backend(pbx) as backend:
            backend.ping()
    assert logins(sim, pbx.kind) == 2
    wait_for(lambda: sessions(sim, pbx.kind) == 0, 3, "both connections to close")


@pytest.mark.real_lanes
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_lane_keeps_its_connection_and_closes_it_once_idle(api_as, sim, ast_pbx, monkeypatch):
    monkeypatch.setattr(base, "KEEP_IDLE_SECONDS", 0.5)
    monkeypatch.setattr(tasks, "LANES", tasks.Lanes(count=1))
    agent = agent_on(ast_pbx, availability=Availability.LOGGED_OUT)  # its memberships go out on the lane too
    api = api_as(agent.user)
    for body in ({"status": "available"}, {"status": "on_break", "reason": "Lunch"}, {"status": "available"}):
        assert api.post(f"/api/agents/{agent.extension}/status/", body, format="json").status_code == 202
        wait_for(lambda: Agent.objects.get(pk=agent.pk).sync_state == SyncState.APPLIED, what="applied")
        paused = (body["status"] == "on_break", body.get("reason", ""))
        assert ami_state(sim) == {"support": paused, "sales": paused}
    assert logins(sim, "asterisk") == 1
    wait_for(lambda: sessions(sim, "asterisk") == 0, 3, "the idle lane to close its connection")
