"""A pause or unpause the PBX makes by itself (FreeSWITCH after max-no-answer, Asterisk's auto-pause, a
feature code on the phone) becomes the agent's availability, recorded with source pbx; what is not the
PBX's to decide (signing in or out, a half-applied change, the echo of a fresh request) is repaired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Agent, AgentStatusEvent, Availability, StatusSource, SyncState
from agents.selectors import pause_reasons
from agents.services import Adoption, agents_adopt_status
from telephony import services
from telephony.pbx.listener import Stream
from tests.factories import agent_on, ami_state
from tests.waiting import wait_for

# serialized_rollback, as every test that commits: the roles come from a data migration.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(params=["asterisk", "freeswitch"])
def pbx(request, ast_pbx, fs_pbx):
    return ast_pbx if request.param == "asterisk" else fs_pbx


def settled_agent(pbx) -> Agent:
    """Available on the PBX, as the agent asked a minute ago."""
    agent = agent_on(pbx, availability=Availability.AVAILABLE)
    services.agent_push_availability(agent_id=agent.pk)
    Agent.objects.filter(pk=agent.pk).update(status_since=timezone.now() - timedelta(minutes=1))
    return Agent.objects.get(pk=agent.pk)


def pbx_pauses(sim, pbx, queues=("support", "sales"), reason="Auto-Pause") -> None:
    """What the PBX does by itself: Asterisk pauses the member (auto-pause), FreeSWITCH sets On Break."""
    if pbx.kind == "asterisk":
        ami = sim.sim.ami
        for queue in queues:
            sim.run(ami.set_paused, queue, ami.queues[queue].members["PJSIP/2001"], True, reason)
    else:
        sim.run(sim.sim.esl.set_status, sim.sim.esl.agents["2001@default"], "On Break")


def on_break_on_pbx(sim, pbx) -> bool:
    if pbx.kind == "asterisk":
        return ami_state(sim) == {"support": (True, "Auto-Pause"), "sales": (True, "Auto-Pause")}
    return sim.sim.esl.agents["2001@default"].status == "On Break"


def last_change(agent) -> tuple:
    e = AgentStatusEvent.objects.filter(agent=agent).latest("pk")
    return e.from_availability, e.to_availability, e.reason, e.source, e.actor_id


def test_a_break_the_pbx_makes_is_followed_live_and_recorded(loop_thread, sim, pbx):
    agent = settled_agent(pbx)
    stream = Stream(pbx)
    loop_thread.start(stream.run())
    wait_for(lambda: stream.live)
    pbx_pauses(sim, pbx)
    agent = wait_for(lambda: Agent.objects.filter(pk=agent.pk, availability=Availability.ON_BREAK).first())
    reason = "Auto-Pause" if pbx.kind == "asterisk" else ""  # mod_callcenter keeps no reason
    assert last_change(agent) == ("available", "on_break", reason, StatusSource.PBX, None)
    assert agent.sync_state == SyncState.APPLIED
    if reason:  # shown on the board, never offered to agents
        assert agent.pause_reason.name == reason and not pause_reasons().filter(name=reason).exists()
    assert services.pbx_reconcile(pbx_id=pbx.pk) == [] and on_break_on_pbx(sim, pbx)  # followed, not undone


def test_reconciliation_follows_a_pbx_break_whose_events_were_missed(sim, pbx):
    agent = settled_agent(pbx)
    pbx_pauses(sim, pbx)  # no listener running
    found = services.pbx_reconcile(pbx_id=pbx.pk)
    shown = "on_break Auto-Pause" if pbx.kind == "asterisk" else "on_break"
    assert found == [f"2001: the PBX set {shown}, taken as the agent's"]
    agent.refresh_from_db()
    assert agent.availability == Availability.ON_BREAK and on_break_on_pbx(sim, pbx)
    assert last_change(agent)[3] == StatusSource.PBX


def test_the_echo_of_a_fresh_request_is_repaired_not_followed(sim, pbx):
    agent = settled_agent(pbx)
    Agent.objects.filter(pk=agent.pk).update(status_since=timezone.now())  # the agent just asked
    pbx_pauses(sim, pbx)
    assert services.pbx_reconcile(pbx_id=pbx.pk)[0].startswith("2001: PBX shows")
    agent.refresh_from_db()
    assert agent.availability == Availability.AVAILABLE and not on_break_on_pbx(sim, pbx)
    assert not AgentStatusEvent.objects.filter(agent=agent, source=StatusSource.PBX).exists()


def test_a_pause_in_one_queue_or_a_pbx_that_forgot_its_members_is_repaired(sim, ast_pbx):
    agent = settled_agent(ast_pbx)
    pbx_pauses(sim, ast_pbx, queues=("support",))  # half the queues: not a break
    services.pbx_reconcile(pbx_id=ast_pbx.pk)
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    sim.run(sim.sim.ami.reset)  # a restart forgets dynamic members: not a sign-out
    services.pbx_reconcile(pbx_id=ast_pbx.pk)
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    agent.refresh_from_db()
    assert agent.availability == Availability.AVAILABLE
    assert not AgentStatusEvent.objects.filter(agent=agent, source=StatusSource.PBX).exists()


def test_a_request_made_meanwhile_wins_over_what_the_pbx_did(db, ast_pbx):
    agent = agent_on(ast_pbx, availability=Availability.AVAILABLE)
    seen = agent.request_seq
    Agent.objects.filter(pk=agent.pk).update(request_seq=seen + 1)  # the agent asked for something since
    assert agents_adopt_status(adoptions=[Adoption(agent.pk, seen, "on_break", "X")]) == []
    assert Agent.objects.get(pk=agent.pk).availability == Availability.AVAILABLE


def test_agents_the_pbx_paused_at_once_are_taken_in_one_go(db, ast_pbx):
    agents = [agent_on(ast_pbx, str(2100 + i), availability=Availability.AVAILABLE) for i in range(6)]

    def adopt(some):
        with CaptureQueriesContext(connection) as queries:
            taken = agents_adopt_status(adoptions=[Adoption(a.pk, a.request_seq, "on_break", "Coaching") for a in some])
        return taken, len(queries)

    first, _ = adopt(agents[:1])  # also makes the reason, inactive: no supervisor set it up
    one, alone = adopt(agents[1:2])
    four, together = adopt(agents[2:])
    assert [a.pk for a in first + one + four] == [a.pk for a in agents]
    assert together == alone  # four cost what one did
    assert set(Agent.objects.values_list("availability", "pause_reason__name", "pause_reason__active")) == {
        ("on_break", "Coaching", False)
    }
    assert AgentStatusEvent.objects.filter(source=StatusSource.PBX, reason="Coaching").count() == 6
