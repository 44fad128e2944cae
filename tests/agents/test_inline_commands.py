"""Inline (the embedded setup), a PBX command never holds the request that asked for it: the change is
recorded and answered at once, and carried out on a lane thread right after, one agent's in order."""

from __future__ import annotations

import re
import time

import pytest

from agents.models import Agent, Availability, SyncState
from telephony.pbx import asterisk
from tests.factories import agent_on, ami_state
from tests.waiting import lanes_idle, wait_for

pytestmark = [pytest.mark.real_lanes, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_hung_pbx_does_not_hold_the_request(api_as, sim, ast_pbx, monkeypatch):
    monkeypatch.setattr(asterisk, "COMMAND_TIMEOUT", 2.0)
    agent = agent_on(ast_pbx, availability=Availability.LOGGED_OUT)
    lanes_idle()  # the new agent's memberships reach the PBX before it hangs: only the status command waits on it
    sim.sim.ami.frozen = True  # accepts and reads, never answers
    started = time.monotonic()
    response = api_as(agent.user).post(f"/api/agents/{agent.extension}/status/", {"status": "available"}, format="json")
    took = time.monotonic() - started
    assert response.status_code == 202 and response.json()["sync_state"] == SyncState.PENDING
    assert took < 1.0, f"the request waited {took:.2f}s for the PBX"  # half the PBX's timeout: it did not wait
    # At its login, or on the lane's connection kept from an earlier command: either way no answer, and said so.
    wait_for(lambda: re.search("did not answer|got no answer", Agent.objects.get(pk=agent.pk).sync_error))
    assert Agent.objects.get(pk=agent.pk).sync_state == SyncState.PENDING  # reconciliation retries it


def test_one_agents_requests_reach_the_pbx_in_order(api_as, sim, ast_pbx):
    agent = agent_on(ast_pbx, availability=Availability.LOGGED_OUT)
    api = api_as(agent.user)
    for body in (
        {"status": "available"},
        {"status": "on_break", "reason": "Lunch"},
        {"status": "available"},
        {"status": "on_break", "reason": "Training"},
    ):
        assert api.post(f"/api/agents/{agent.extension}/status/", body, format="json").status_code == 202
    wait_for(lambda: Agent.objects.get(pk=agent.pk).sync_state == SyncState.APPLIED)
    assert ami_state(sim) == {"support": (True, "Training"), "sales": (True, "Training")}
    pauses = [
        (a["paused"], a.get("reason", ""))
        for a in sim.sim.ami.actions
        if a["action"] == "QueuePause" and a["interface"] == "PJSIP/2001"
    ]
    # Each command carries out the agent's latest request, one after the other: the PBX ends on the last
    # request and never goes back to an older one once it has seen it.
    last = pauses.index(("true", "Training"))
    assert set(pauses[last:]) == {("true", "Training")}


def test_a_route_saved_through_the_api_reaches_both_pbxs_within_a_second(api_as, sim, ast_pbx, fs_pbx, supervisor):
    from telephony.models import Did

    lanes_idle()  # what earlier tests left on the lanes is done first: this measures the push
    Did.objects.create(number="0323300245", label="LaCueva")
    started = time.monotonic()
    for pbx in ("ast", "fs"):
        body = {"pbx": pbx, "prefix": "45", "did": "0323300245"}
        assert api_as(supervisor).post("/api/routes/prefixes/", body, format="json").status_code == 201
    wait_for(
        lambda: (
            sim.sim.ami.astdb.get("/mayday/prefix/45") == "0323300245"
            and sim.sim.esl.hash.get(("mayday", "prefix_45")) == "0323300245"
        ),
        timeout=1.0,
    )
    assert time.monotonic() - started < 1.0
