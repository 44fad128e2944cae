"""Calls recorded live: the simulator's scripted callers on Asterisk and FreeSWITCH, followed by the real listener,
give the queue calls, ring attempts and CDRs that the PBXs' own words and counters say."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Agent, Availability
from reporting.models import AttemptResult, Cdr, Outcome, QueueCall
from reporting.selectors import queue_figures
from telephony.models import Queue, QueueMembership
from telephony.pbx import listener
from telephony.simulator.activity import Activity
from tests.factories import agent_on, ami_state
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    monkeypatch.setattr(listener, "PBX_LIST_SECONDS", 0.2)


@pytest.fixture
def activity(sim):
    """Scripted callers on the still simulator, driven by the test: quick rings and talks, impatient callers, every
    free phone answered."""
    activity = Activity(sim.sim.ami, sim.sim.esl, seed=7, ring=0.2, talk=(0.3, 0.3), patience=(1.0, 1.0), no_answer=0)
    yield activity
    sim.run(activity.stop)


@pytest.fixture
def floor(sim, ast_pbx, fs_pbx, loop_thread):
    """On each PBX one agent available in `support` and one on break in `sales`, put there by the listener's
    reconciliation; returns once both PBXs show them."""
    for pbx, available, on_break in ((ast_pbx, "2001", "2002"), (fs_pbx, "2003", "2004")):
        agent_on(pbx, available, queues=("support",))
        agent_on(pbx, on_break, Availability.ON_BREAK, "Lunch", queues=("sales",))
    loop_thread.start(listener.listen())
    esl = sim.sim.esl

    def ready() -> bool:
        return (
            ami_state(sim, "2001") == {"support": (False, "")}
            and ami_state(sim, "2002") == {"sales": (True, "Lunch")}
            and {("support@default", "2003@default"), ("sales@default", "2004@default")} <= set(esl.tiers)
            and (esl.agents["2003@default"].status, esl.agents["2004@default"].status) == ("Available", "On Break")
            and QueueMembership.objects.filter(on_pbx=True).count() == 4
        )

    wait_for(ready, what="agents on both PBXs")


def queue_show(port: int, queue: str) -> tuple[int, int]:
    """Asterisk's own counters for a queue, C: (completed) and A: (abandoned), read with the `Command` action."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"Action: Login\r\nUsername: mayday\r\nSecret: mayday\r\nEvents: off\r\n\r\n"
            b"Action: Command\r\nCommand: queue show " + queue.encode() + b"\r\n\r\nAction: Logoff\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    completed, abandoned = re.search(r", C:(\d+), A:(\d+),", data.decode()).groups()
    return int(completed), int(abandoned)


async def one_after_another(call, queue: str, n: int) -> None:
    for _ in range(n):
        await call(queue)


def calls(pbx, queue: str) -> list[QueueCall]:
    return list(QueueCall.objects.filter(pbx=pbx, queue_name=queue).order_by("entered_at"))


def test_calls_on_both_pbxs_are_recorded_as_the_pbxs_tell_them(sim, ast_pbx, fs_pbx, floor, activity, settings):
    settings.MAYDAY_SHORT_ABANDON_SECONDS = 0  # Asterisk's A: counts every abandon
    started = timezone.now()

    async def drive():
        await asyncio.gather(
            one_after_another(activity.ami_call, "support", 2),  # 2001 answers both
            activity.ami_call("sales"),  # 2002 is on break: the caller gives up
            one_after_another(activity.esl_call, "support@default", 2),  # 2003 answers both
            activity.esl_call("sales@default"),  # 2004 is on break
        )
        activity.no_answer = 1.0  # then 2001's phone rings and rings, and the caller gives up
        await activity.ami_call("support")

    sim.run(drive)
    done = {ast_pbx.pk: (4, 4, 2), fs_pbx.pk: (3, 3, 2)}  # calls ended, CDRs that count, internal legs' CDRs

    def recorded() -> dict:
        return {
            pbx: (
                QueueCall.objects.filter(pbx_id=pbx).exclude(outcome=Outcome.WAITING).count(),
                Cdr.objects.filter(pbx_id=pbx, internal=False).count(),
                Cdr.objects.filter(pbx_id=pbx, internal=True).count(),
            )
            for pbx in done
        }

    wait_for(lambda: recorded() == done, what="every call and CDR recorded")

    # Asterisk: outcomes, agents, talk times as AgentComplete said them (whole seconds), ring attempts.
    ast_agent = Agent.objects.get(extension="2001")
    answered_first, answered_second, not_answered = calls(ast_pbx, "support")
    for call in (answered_first, answered_second):
        assert (call.outcome, call.agent, call.agent_extension, call.talk_seconds, call.wait_seconds) == (
            Outcome.ANSWERED,
            ast_agent,
            "2001",
            0,
            0,
        )
        assert (call.ended_at - call.answered_at).total_seconds() == pytest.approx(0.3, abs=0.25)
        assert [(a.agent_extension, a.result) for a in call.attempts.all()] == [("2001", AttemptResult.ANSWERED)]
    assert (not_answered.outcome, not_answered.agent_extension, not_answered.wait_seconds) == (
        Outcome.ABANDONED,
        "",
        1,
    )
    attempts = list(not_answered.attempts.all())
    assert attempts and {(a.agent_extension, a.result, a.ring_ms) for a in attempts} == {
        ("2001", AttemptResult.NO_ANSWER, 200)
    }
    assert not_answered.ring_no_answers == len(attempts) == len({a.leg_id for a in attempts})
    (gave_up,) = calls(ast_pbx, "sales")
    assert (gave_up.outcome, gave_up.agent_extension, gave_up.wait_seconds, gave_up.attempts.count()) == (
        Outcome.ABANDONED,
        "",
        1,
        0,
    )

    # FreeSWITCH: the same, talk times as mod_callcenter counted them for the agent.
    fs_agent = Agent.objects.get(extension="2003")
    fs_answered = calls(fs_pbx, "support")
    assert [(c.outcome, c.agent, c.agent_extension) for c in fs_answered] == [
        (Outcome.ANSWERED, fs_agent, "2003"),
        (Outcome.ANSWERED, fs_agent, "2003"),
    ]
    assert sum(c.talk_seconds for c in fs_answered) == sim.sim.esl.agents["2003@default"].talk_time
    assert all(c.talk_seconds in (0, 1) and c.ended_at for c in fs_answered)
    (fs_gave_up,) = calls(fs_pbx, "sales")
    assert (fs_gave_up.outcome, fs_gave_up.exit_reason, fs_gave_up.agent_extension) == (
        Outcome.ABANDONED,
        "BREAK_OUT",
        "",
    )
    assert fs_gave_up.wait_seconds in (1, 2)

    # CDRs: exactly one that counts per call, keyed like the call; the agents' legs are internal.
    for pbx in (ast_pbx, fs_pbx):
        cdrs = Cdr.objects.filter(pbx=pbx, internal=False)
        assert sorted(c.call_id for c in cdrs) == sorted(
            QueueCall.objects.filter(pbx=pbx).values_list("call_id", flat=True)
        )
        assert {c.disposition for c in cdrs} == {"ANSWERED"}  # the queue answered every caller
        for cdr in cdrs:
            call = QueueCall.objects.get(pbx=pbx, call_id=cdr.call_id)
            assert abs(cdr.start - call.entered_at) < timedelta(seconds=2)  # a CDR counts whole seconds
            assert bool(cdr.destination_channel) == (call.outcome == Outcome.ANSWERED)
    ast_legs = Cdr.objects.filter(pbx=ast_pbx, internal=True)
    assert all(re.fullmatch(r"Local/2001@agent-phones-[0-9a-f]{8};2", c.channel) for c in ast_legs)
    answered_ids = {c.call_id for c in (answered_first, answered_second)}
    assert {c.destination_channel.removesuffix(";1") for c in Cdr.objects.filter(call_id__in=answered_ids)} == {
        c.channel.removesuffix(";2") for c in ast_legs
    }
    fs_legs = Cdr.objects.filter(pbx=fs_pbx, internal=True)
    assert {(c.channel, c.destination_channel) for c in fs_legs} == {
        ("sofia/internal/2003@127.0.0.1", "loopback/support-a")
    }

    # The figures count as Asterisk counts: answered is C:, abandoned is A:.
    rows = {
        row["queue"].name: row
        for row in queue_figures(
            start=started - timedelta(minutes=1),
            end=timezone.now() + timedelta(minutes=1),
            queue_ids=Queue.objects.filter(pbx=ast_pbx).values_list("pk", flat=True),
        )
    }
    for name in ("support", "sales"):
        completed, abandoned = queue_show(sim.sim.ami_port, name)
        row = rows[name]
        assert (row["answered"], row["abandoned"], row["offered"]) == (completed, abandoned, completed + abandoned)
    assert queue_show(sim.sim.ami_port, "support") == (2, 1)


def test_an_event_without_its_own_time_is_stamped_on_receipt(sim, ast_pbx, fs_pbx, floor, activity):
    """The simulator, like an Asterisk without `timestampevents`, sends QueueCallerJoin with no Timestamp. (The
    channel here was made an hour ago, so its uniqueid tells nothing of when the caller entered the queue.)"""
    activity.patience = (30.0, 30.0)
    uniqueid = f"{int(time.time()) - 3600}.99"
    sent = time.time()
    sim.run(lambda: activity._spawn(activity.ami_call("sales", uniqueid)))
    call = wait_for(lambda: QueueCall.objects.filter(pbx=ast_pbx, call_id=uniqueid).first(), what="the caller")
    assert (call.outcome, call.queue_name, call.position) == (Outcome.WAITING, "sales", 1)
    assert call.entered_at.timestamp() == pytest.approx(sent, abs=1.0)
