"""Every recorded transcript maps to the normalized events Mayday acts on; noise is dropped."""

from __future__ import annotations

from collections import Counter

import pytest
from panoramisk.message import Message

from telephony.pbx import events as ev
from telephony.pbx.asterisk import ami_event, extension_of
from telephony.pbx.freeswitch import esl_event, parse_event_body, parse_table, snapshot_from_tables
from tests.telephony import transcripts

AMI_FILES = [
    "abandoned-call.ami",
    "answered-call-ringall-two-members.ami",
    "answered-call.ami",
    "login-fail.ami",
    "pjsip-register-events.ami",
    "pjsip-reregister-qualified.ami",
    "pjsip-show-extra.ami",
    "pjsip-show.ami",
    "queue-lifecycle.ami",
    "ring-no-answer.ami",
]
ESL_EVENT_FILES = ["agent-case.esl", "events-all.esl", "events-call-dialplan.esl", "events-call.esl", "events.esl"]


def ami_events(name: str) -> list[ev.Event]:
    _, _, frames = transcripts.ami(name)
    messages = [Message.from_line("\r\n".join(f"{k}: {v}" for k, v in frame)) for frame in frames]
    return [e for m in messages if m is not None and "Event" in m and (e := ami_event(m)) is not None]


def esl_events(name: str) -> list[ev.Event]:
    _, frames = transcripts.esl(name)
    bodies = [body for headers, body in frames if dict(headers).get("Content-Type") == "text/event-plain"]
    return [e for body in bodies if (e := esl_event(body)) is not None]


@pytest.mark.parametrize("name", AMI_FILES)
def test_every_ami_transcript_normalizes_without_error(name):
    _, _, frames = transcripts.ami(name)
    assert frames
    ami_events(name)  # no KeyError / ValueError on any real frame


def test_queue_lifecycle_gives_member_added_paused_removed():
    events = ami_events("queue-lifecycle.ami")
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds == {"MemberAdded": 3, "MemberPaused": 3, "MemberRemoved": 1}
    assert events[0] == ev.MemberAdded("support", "1005", False, "", "not_in_use", 0, 0, 0)
    paused = [e for e in events if isinstance(e, ev.MemberPaused)]
    assert paused == [
        ev.MemberPaused("support", "1006", True, "Lunch"),
        ev.MemberPaused("sales", "1006", True, "Lunch"),
        ev.MemberPaused("support", "1006", False, ""),
    ]
    assert events[-1] == ev.MemberRemoved("sales", "1006")


def test_answered_call_gives_the_call_story_and_cdrs():
    events = ami_events("answered-call.ami")
    story = [type(e).__name__ for e in events if not isinstance(e, (ev.MemberStatus, ev.CdrRecorded))]
    # Asterisk reports the caller leaving the queue before the agent connection.
    assert story[:5] == ["MemberAdded", "CallerJoined", "AgentCalled", "CallerLeft", "AgentConnected"]
    assert "AgentCompleted" in story
    joined = next(e for e in events if isinstance(e, ev.CallerJoined))
    assert (joined.queue, joined.position) == ("support", 1) and joined.call_id
    connected = next(e for e in events if isinstance(e, ev.AgentConnected))
    completed = next(e for e in events if isinstance(e, ev.AgentCompleted))
    assert connected.extension == completed.extension == "1005"
    assert completed.talk_time == 4 and completed.hold_time == 1 and completed.reason == "agent"
    assert {e.device_state for e in events if isinstance(e, ev.MemberStatus)} >= {"in_use", "not_in_use"}
    cdrs = [e for e in events if isinstance(e, ev.CdrRecorded)]
    assert cdrs and {c.disposition for c in cdrs} <= ev.CDR_DISPOSITIONS
    assert any(c.disposition == "ANSWERED" and c.billable_seconds >= 3 for c in cdrs)


def test_ringall_bridges_one_member_though_both_answer():
    events = ami_events("answered-call-ringall-two-members.ami")
    assert len([e for e in events if isinstance(e, ev.AgentCalled)]) == 2
    connected = [e for e in events if isinstance(e, ev.AgentConnected)]
    assert [c.extension for c in connected] == ["1005"]


def test_abandoned_call_holds_three_seconds():
    events = ami_events("abandoned-call.ami")
    added = next(e for e in events if isinstance(e, ev.MemberAdded))
    assert (added.paused, added.reason) == (True, "Break")
    abandon = next(e for e in events if isinstance(e, ev.CallerAbandoned))
    assert (abandon.queue, abandon.hold_time, abandon.original_position) == ("support", 3, 1)
    assert not any(isinstance(e, ev.AgentConnected) for e in events)


def test_ring_no_answer_reports_the_ring_time():
    events = ami_events("ring-no-answer.ami")
    rna = next(e for e in events if isinstance(e, ev.AgentRingNoAnswer))
    assert (rna.extension, rna.ring_time_ms) == ("1007", 10000)
    assert any(isinstance(e, ev.CallerAbandoned) for e in events)


def test_pjsip_contact_events_carry_status_and_rtt():
    contacts = [e for e in ami_events("pjsip-register-events.ami") if isinstance(e, ev.ContactStatus)]
    statuses = {(c.endpoint, c.status) for c in contacts}
    assert {("1007", "NonQualified"), ("1005", "Unreachable"), ("1005", "Reachable"), ("1006", "Removed")} <= statuses
    assert all(c.rtt_usec is None for c in contacts if c.status != "Reachable")
    assert any(c.rtt_usec for c in contacts if c.status == "Reachable")
    assert all(c.uri.startswith("sip:") for c in contacts)
    first = [e for e in ami_events("pjsip-reregister-qualified.ami") if isinstance(e, ev.ContactStatus)]
    assert [c.status for c in first if c.endpoint == "1005"][-2:] == ["NonQualified", "Reachable"]


def test_noise_is_dropped():
    _, _, frames = transcripts.ami("answered-call.ami")
    names = Counter(dict(f).get("Event") for f in frames)
    assert names["Newexten"] and names["VarSet"]
    for noise in ("Newexten", "VarSet", "Newchannel", "Hangup", "BridgeEnter", "DialBegin"):
        frame = next(f for f in frames if dict(f).get("Event") == noise)
        assert ami_event(Message.from_line("\r\n".join(f"{k}: {v}" for k, v in frame))) is None


@pytest.mark.parametrize(
    "interface,extension",
    [
        ("PJSIP/1005", "1005"),
        ("Local/1005@agent-phones/n", "1005"),
        ("SIP/2001", "2001"),
        ("Local/1007@slow-phones/n", "1007"),
    ],
)
def test_member_interfaces_name_the_extension(interface, extension):
    assert extension_of(interface) == extension


@pytest.mark.parametrize("name", ESL_EVENT_FILES)
def test_every_esl_transcript_normalizes_without_error(name):
    esl_events(name)


def test_esl_status_and_state_changes_are_decoded():
    events = esl_events("events.esl")
    statuses = [e.status for e in events if isinstance(e, ev.AgentStatusChanged)]
    assert statuses[:3] == ["Available", "On Break", "Logged Out"]
    assert all(e.extension == "1039" for e in events)
    paused = {e.status: e.paused for e in events if isinstance(e, ev.AgentStatusChanged)}
    assert paused["On Break"] is True and paused["Available"] is False
    states = [e.state for e in events if isinstance(e, ev.AgentStateChanged)]
    assert "Idle" in states and "Waiting" in states


def test_esl_call_gives_queue_start_offer_bridge_and_end():
    events = esl_events("events-call.esl")
    story = [type(e).__name__ for e in events if not isinstance(e, (ev.AgentStateChanged, ev.AgentStatusChanged))]
    assert story == ["MemberQueueStart", "AgentCalled", "AgentConnected", "AgentCompleted", "MemberQueueEnd"]
    start = events[[type(e) for e in events].index(ev.MemberQueueStart)]
    assert (start.queue, start.caller_name) == ("support", "Outbound Call")
    completed = next(e for e in events if isinstance(e, ev.AgentCompleted))
    assert (completed.extension, completed.talk_time, completed.hold_time) == ("1039", 4, 1)
    end = next(e for e in events if isinstance(e, ev.MemberQueueEnd))  # CC-Cause Terminated: answered, over
    assert (end.extension, end.left - end.joined) == ("1039", 5)
    assert "In a queue call" in [e.state for e in events if isinstance(e, ev.AgentStateChanged)]


def test_esl_values_are_decoded_after_splitting_lines():
    body = (
        "Event-Subclass: callcenter%3A%3Ainfo\nCC-Agent: 1039%40default\nCC-Action: member-queue-start\n"
        "CC-Queue: support%40default\nCC-Member-CID-Name: Evil%0ACC-Action: agent-status-change\n\n"
    )
    headers = parse_event_body(body)
    assert headers["CC-Action"] == "member-queue-start"
    assert headers["CC-Member-CID-Name"] == "Evil\nCC-Action: agent-status-change"
    event = esl_event(body)
    assert isinstance(event, ev.MemberQueueStart) and event.caller_name.startswith("Evil\n")


def test_agent_and_tier_lists_parse_into_a_snapshot():
    _, frames = transcripts.esl("auth-ok-api.esl")
    bodies = [body for headers, body in frames if dict(headers).get("Content-Type") == "api/response"]
    agent_list = next(b for b in bodies if b.startswith("name|instance_id"))
    tier_list = next(b for b in bodies if b.startswith("queue|agent"))
    assert [row["status"] for row in parse_table(agent_list)] == ["Logged Out", "Logged Out"]
    snap = snapshot_from_tables(agent_list, tier_list, "", "default")
    assert snap.agents == {"1039": ("Logged Out", "Waiting"), "1040": ("Logged Out", "Waiting")}
    assert [(m.queue, m.extension, m.penalty) for m in snap.members] == [("support", "1039", 0), ("support", "1040", 1)]
    assert snap.queues == ["support"]
    assert snapshot_from_tables(agent_list, tier_list, "", "elsewhere").members == []


@pytest.mark.parametrize("name", ["answered-call.ami", "queue-lifecycle.ami", "pjsip-register-events.ami"])
def test_the_listener_fast_lane_sees_what_panoramisk_sees(name):
    """AmiProtocol hands mapped events to the sink as dicts and drops the rest; the result must equal
    normalizing every event through panoramisk's Message, and list replies must still reach panoramisk."""
    from types import SimpleNamespace

    from telephony.pbx.asterisk import AmiProtocol

    raw = "\r\n".join(
        line
        for line in (transcripts.FIXTURES / "asterisk" / name).read_bytes().decode().split("\r\n")
        if not line.startswith(">>")
    )
    seen, handled = [], []
    protocol = AmiProtocol()
    protocol.connection_made(SimpleNamespace())
    protocol.factory = SimpleNamespace(event_sink=lambda frame: seen.append(ami_event(frame)))
    protocol.handle_message = handled.append
    for i in range(0, len(raw), 1000):  # arbitrary TCP chunking
        protocol.data_received(raw[i : i + 1000].encode())
    protocol.data_received(b"\r\n\r\n")
    assert [e for e in seen if e is not None] == ami_events(name)
    assert all("ActionID" in m or "Response" in m for m in handled)  # only replies and list items go the slow way


def test_bridge_agent_fail_reports_the_ring_time():
    body = (
        "Event-Subclass: callcenter%3A%3Ainfo\nEvent-Date-Timestamp: 1795239300500000\n"
        "CC-Queue: support%40default\nCC-Action: bridge-agent-fail\nCC-Agent: 1040%40default\n"
        "CC-Agent-Called-Time: 1795239290\nCC-Member-Session-UUID: abc\n\n"
    )
    assert esl_event(body) == ev.AgentRingNoAnswer("support", "1040", "abc", 10500, at=1795239300.5)
