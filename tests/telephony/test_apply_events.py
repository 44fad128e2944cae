"""Applying events: the last word on each member wins, and a batch costs the same few queries as one event."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from telephony import services
from telephony.models import QueueMembership
from telephony.pbx import events as ev
from telephony.pbx.base import MemberState, Snapshot
from tests.factories import AgentFactory, MembershipFactory, PbxServerFactory, QueueFactory


def setup_members(pbx, n=3):
    queue = QueueFactory(name="support", pbx=pbx)
    return [MembershipFactory(agent=AgentFactory(extension=str(3000 + i), pbx=pbx), queue=queue) for i in range(n)]


def test_last_state_of_each_member_wins_in_one_batch(db):
    pbx = PbxServerFactory()
    rows = setup_members(pbx)
    events = []
    for i in range(200):
        for row in rows:
            events.append(ev.MemberPaused("support", row.agent.extension, i % 2 == 0, f"R{i}" if i % 2 == 0 else ""))
    events.append(ev.MemberStatus("support", "3001", "in_use", True, True, "Final", 7, 1795238597))
    events.append(ev.CallerLeft("support", "x", 1))  # not about members: ignored
    with CaptureQueriesContext(connection) as queries:
        assert services.pbx_apply_events(pbx_id=pbx.pk, events=events) == 601
    states = {
        m.agent.extension: (m.on_pbx, m.paused, m.pause_reason, m.device_state, m.calls_taken)
        for m in QueueMembership.objects.select_related("agent")
    }
    assert states == {
        "3000": (True, False, "", "", 0),
        "3001": (True, True, "Final", "in_use", 7),
        "3002": (True, False, "", "", 0),
    }
    assert QueueMembership.objects.get(agent__extension="3001").last_call_at.timestamp() == 1795238597
    writes = [q for q in queries if "UPDATE" in q["sql"]]  # one statement, run for each row ("3 times: UPDATE…")
    reads = [q for q in queries if q["sql"].startswith("SELECT")]
    # One read of the members and one write; the broadcast is built from the rows in hand (their queues: no
    # read), and one read for the agents whose pauses the PBX may have changed by itself (none here: none has
    # settled).
    assert len(reads) == 2 and len(writes) == 1


def test_events_for_unknown_members_change_nothing(db):
    pbx = PbxServerFactory()
    setup_members(pbx, 1)
    services.pbx_apply_events(
        pbx_id=pbx.pk,
        events=[ev.MemberPaused("support", "9999", True, "x"), ev.MemberPaused("other", "3000", True, "x")],
    )
    assert not QueueMembership.objects.filter(paused=True).exists()


def test_freeswitch_agent_events_reach_agent_and_memberships(db):
    pbx = PbxServerFactory(kind="freeswitch", domain="default")
    setup_members(pbx, 1)
    services.pbx_apply_events(
        pbx_id=pbx.pk,
        events=[
            ev.AgentStatusChanged("3000", "On Break", True),
            ev.AgentStateChanged("3000", "In a queue call", "in_use", True),
        ],
    )
    agent = Agent.objects.get(extension="3000")
    assert (agent.pbx_status, agent.pbx_state) == ("On Break", "In a queue call")
    m = QueueMembership.objects.get()
    assert (m.paused, m.device_state, m.in_call) == (True, "in_use", True)


def test_snapshot_marks_missing_members_off_the_pbx(db):
    pbx = PbxServerFactory()
    rows = setup_members(pbx, 2)
    QueueMembership.objects.update(on_pbx=True, paused=True, pause_reason="Old")
    services.pbx_apply_snapshot(
        pbx_id=pbx.pk,
        snapshot=Snapshot(
            queues=["support"], members=[MemberState("support", rows[0].agent.extension, paused=False, calls_taken=3)]
        ),
    )
    states = {m.agent.extension: (m.on_pbx, m.paused, m.calls_taken) for m in QueueMembership.objects.all()}
    assert states == {"3000": (True, False, 3), "3001": (False, False, 0)}


def test_a_membership_removed_while_a_batch_is_written_stays_removed(db):
    from mayday.db import update_rows

    rows = setup_members(PbxServerFactory())
    loaded = list(QueueMembership.objects.order_by("pk"))
    for row in loaded:
        row.paused, row.pause_reason = True, "Lunch"
    rows[0].delete()  # a supervisor takes the agent out of the queue meanwhile
    update_rows(loaded, ["paused", "pause_reason"])
    assert list(QueueMembership.objects.values_list("pk", "paused", "pause_reason")) == [
        (row.pk, True, "Lunch") for row in loaded[1:]
    ]
