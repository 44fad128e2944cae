"""The listener against a live simulator: resync, events, restarts, bad credentials, half-open sockets."""

from __future__ import annotations

import time

import pytest

from agents.models import Availability
from telephony.models import ConnectionState, PbxServer, QueueMembership
from telephony.pbx import asterisk, freeswitch, listener
from telephony.pbx.base import Seat, backend_for
from telephony.pbx.listener import Stream, reconcile
from tests.factories import AgentFactory, MembershipFactory, QueueFactory
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(params=["asterisk", "freeswitch"])
def pbx(request, ast_pbx, fs_pbx):
    return ast_pbx if request.param == "asterisk" else fs_pbx


@pytest.fixture
def agent(pbx):
    agent = AgentFactory(extension="2001", pbx=pbx, availability=Availability.AVAILABLE)
    for name in ("support", "sales"):
        MembershipFactory(
            agent=agent,
            queue=QueueFactory(name=name, pbx=pbx, strategy="ringall" if pbx.kind == "asterisk" else "top-down"),
        )
    return agent


def rows(agent) -> dict[str, tuple]:
    return {
        m.queue.name: (m.on_pbx, m.paused) for m in QueueMembership.objects.filter(agent=agent).select_related("queue")
    }


def test_resync_then_live_events(loop_thread, sim, pbx, agent):
    with backend_for(pbx) as backend:  # the PBX already has the agent, on break, before we connect
        backend.set_availability(
            extension="2001",
            name="A",
            availability=Availability.ON_BREAK,
            reason="Lunch",
            queues=[Seat("support"), Seat("sales")],
        )
    stream = Stream(pbx)
    loop_thread.start(stream.run())
    wait_for(lambda: rows(agent) == {"support": (True, True), "sales": (True, True)}, what="resync")
    # The snapshot is applied first, the connection recorded just after it.
    wait_for(lambda: PbxServer.objects.get(pk=pbx.pk).state == ConnectionState.CONNECTED, what="connected")

    with backend_for(pbx) as backend:
        backend.set_availability(
            extension="2001",
            name="A",
            availability=Availability.AVAILABLE,
            reason="",
            queues=[Seat("support"), Seat("sales")],
        )
    wait_for(lambda: rows(agent) == {"support": (True, False), "sales": (True, False)}, what="unpause event")
    if pbx.kind == "asterisk":
        with backend_for(pbx) as backend:
            backend.member_remove(queue="sales", extension="2001")
        wait_for(lambda: rows(agent)["sales"] == (False, False), what="removal event")
        # The listener asks Asterisk only for the event classes it maps (no dialplan/call chatter).
        assert asterisk.EVENT_MASK in [a["events"] for a in sim.sim.ami.actions if a["action"] == "Login"]
    else:
        wait_for(lambda: type(agent).objects.get(pk=agent.pk).pbx_status == "Available", what="agent status")


def test_restart_reconnects_resyncs_and_reconciles(loop_thread, sim, pbx, agent):
    stream = Stream(pbx, on_resync=reconcile)
    loop_thread.start(stream.run())
    # First connect: the agent is wanted Available, the PBX has nothing; reconciliation puts it right.
    wait_for(lambda: rows(agent) == {"support": (True, False), "sales": (True, False)}, what="first reconcile")

    sim.run(sim.sim.restart)  # connections drop, run-time state is lost
    wait_for(lambda: stream.resyncs >= 2, timeout=15, what="reconnect")
    wait_for(lambda: rows(agent) == {"support": (True, False), "sales": (True, False)}, what="second reconcile")
    with backend_for(pbx) as backend:
        snap = backend.snapshot()
    assert {(m.queue, m.extension, m.paused) for m in snap.members} == {
        ("support", "2001", False),
        ("sales", "2001", False),
    }
    # The snapshot is applied first, the connection recorded just after it.
    wait_for(lambda: PbxServer.objects.get(pk=pbx.pk).state == ConnectionState.CONNECTED, what="connected")


def test_wrong_credentials_back_off_without_a_crash_loop(loop_thread, sim, pbx):
    PbxServer.objects.filter(pk=pbx.pk).update(secret="wrong")
    pbx.refresh_from_db()
    stream = Stream(pbx)
    loop_thread.start(stream.run())
    wait_for(lambda: PbxServer.objects.get(pk=pbx.pk).state == ConnectionState.ERROR, what="error state")
    time.sleep(2.5)
    row = PbxServer.objects.get(pk=pbx.pk)
    assert "Authentication failed" in row.last_error or "-ERR invalid" in row.last_error
    tries = (
        sum(1 for a in sim.sim.ami.actions if a["action"] == "Login")
        if pbx.kind == "asterisk"
        else sum(1 for c in sim.sim.esl.commands if c.startswith("auth"))
    )
    assert 2 <= tries <= 4  # backoff: about 0.5-1 s, 1-2 s, 2-4 s apart
    assert stream.resyncs == 0


def test_half_open_connection_is_detected_and_replaced(loop_thread, sim, pbx, monkeypatch):
    monkeypatch.setattr(listener, "PING_TIMEOUT", 0.5)
    monkeypatch.setattr(asterisk, "COMMAND_TIMEOUT", 0.5)
    monkeypatch.setattr(freeswitch, "COMMAND_TIMEOUT", 0.5)
    stream = Stream(pbx, ping_every=0.3)
    loop_thread.start(stream.run())
    wait_for(lambda: stream.resyncs == 1, what="first connect")
    server = sim.sim.ami if pbx.kind == "asterisk" else sim.sim.esl
    server.frozen = True  # the socket stays open but nothing answers
    wait_for(lambda: "no answer to ping" in PbxServer.objects.get(pk=pbx.pk).last_error, what="half-open detected")
    server.frozen = False
    wait_for(lambda: stream.resyncs == 2, timeout=15, what="reconnect after thaw")
