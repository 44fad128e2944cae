"""The simulator answers the recorded actions as the real PBXs did: same framing, header names and order, texts.

Values that differ by nature (times, ids, addresses, uptime) are compared by name and position only.
"""

from __future__ import annotations

import socket
import time

import pytest

from telephony.pbx import events as ev
from telephony.pbx.freeswitch import esl_event
from telephony.simulator.activity import Activity
from telephony.simulator.esl import FsAgent
from telephony.simulator.runner import SimulatorThread
from tests.telephony import transcripts

AMI_VOLATILE = {
    "Timestamp",
    "LoginTime",
    "LastPause",
    "Uptime",
    "LastReload",
    "EventTV",
    "SessionID",
    "LocalAddress",
    "RemoteAddress",
    "SessionTV",
    "Ringinuse",
    "Output",
}
ESL_VOLATILE = {
    "Core-UUID",
    "FreeSWITCH-Hostname",
    "FreeSWITCH-Switchname",
    "FreeSWITCH-IPv4",
    "FreeSWITCH-IPv6",
    "Event-Date-Local",
    "Event-Date-GMT",
    "Event-Date-Timestamp",
    "Event-Calling-Function",
    "Event-Calling-Line-Number",
    "Event-Sequence",
    "Content-Length",
}


def read_all(sock: socket.socket, until: bytes = b"", timeout: float = 5.0) -> bytes:
    sock.settimeout(0.3)
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if until and until in data:
                break
            continue
        if not chunk:
            break
        data += chunk
    return data


def same_shape(recorded, simulated, volatile) -> None:
    assert [k for k, _ in simulated] == [k for k, _ in recorded], (recorded, simulated)
    for (key, want), (_, got) in zip(recorded, simulated, strict=True):
        if key not in volatile:
            assert got == want, f"{key}: recorded {want!r}, simulator {got!r}"


def ami_frames(data: bytes) -> tuple[str, list]:
    banner, _, rest = data.decode().partition("\r\n")
    frames = []
    for block in rest.split("\r\n\r\n"):
        if block:
            frames.append(
                [tuple(line.split(": ", 1)) if ": " in line else (line.rstrip(":"), "") for line in block.split("\r\n")]
            )
    return banner, frames


@pytest.fixture
def ami_sim():
    thread = SimulatorThread(ami={"secret": "mayday-secret", "endpoints": []})
    yield thread
    thread.close()


def replay_ami(port: int, actions) -> bytes:
    payload = "".join("".join(f"{k}: {v}\r\n" for k, v in action) + "\r\n" for action in actions)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(payload.encode())
        return read_all(sock)


def test_queue_lifecycle_matches_the_recording(ami_sim):
    banner, actions, recorded = transcripts.ami("queue-lifecycle.ami")
    sim_banner, simulated = ami_frames(replay_ami(ami_sim.sim.ami_port, actions))
    assert sim_banner == banner
    assert len(simulated) == len(recorded)
    for want, got in zip(recorded, simulated, strict=True):
        same_shape(want, got, AMI_VOLATILE)


def test_failed_login_matches_the_recording_and_closes(ami_sim):
    banner, actions, recorded = transcripts.ami("login-fail.ami")
    sim_banner, simulated = ami_frames(replay_ami(ami_sim.sim.ami_port, [*actions, [("Action", "Ping")]]))
    assert sim_banner == banner
    assert simulated == recorded  # the Ping after a failed login gets nothing: the connection is closed


def test_pjsip_lists_use_the_recorded_framing(ami_sim):
    ami_sim.sim.ami.endpoints = ["1005", "1006", "1007"]
    ami_sim.run(ami_sim.sim.ami.set_contact, "1005", "Reachable", 6005)
    _, actions, recorded = transcripts.ami("pjsip-show.ami")
    wanted = [a for a in actions if dict(a)["Action"] in ("Login", "PJSIPShowEndpoints", "PJSIPShowContacts")]
    _, simulated = ami_frames(replay_ami(ami_sim.sim.ami_port, wanted))
    by_event = {}
    for frame in simulated:
        by_event.setdefault(dict(frame).get("Event") or dict(frame).get("Message"), frame)
    for frame in recorded:
        name = dict(frame).get("Event")
        if name in ("EndpointList", "ContactList", "EndpointListComplete", "ContactListComplete"):
            got = by_event[name]
            assert [k for k, _ in got] == [k for k, _ in frame], name
    starts = [f for f in simulated if dict(f).get("EventList") == "start"]
    assert [dict(f)["Message"] for f in starts] == [
        "A listing of Endpoints follows, presented as EndpointList events",
        "A listing of Contacts follows, presented as ContactList events",
    ]


def test_a_pbx_without_pjsip_answers_like_one(ami_sim):
    ami_sim.sim.ami.pjsip = False
    _, frames = ami_frames(
        replay_ami(
            ami_sim.sim.ami_port,
            [
                [("Action", "Login"), ("Username", "mayday"), ("Secret", "mayday-secret"), ("Events", "off")],
                [("Action", "PJSIPShowEndpoints"), ("ActionID", "p1")],
                [("Action", "Logoff")],
            ],
        )
    )
    assert frames[1] == [("Response", "Error"), ("ActionID", "p1"), ("Message", "Invalid/unknown command")]


# ---- ESL -------------------------------------------------------------------------------------------


def esl_frames(data: bytes) -> list[tuple[list, str]]:
    text, frames, pos = data.decode(), [], 0
    while pos < len(text):
        end = text.index("\n\n", pos)
        headers = [tuple(line.split(": ", 1)) for line in text[pos:end].split("\n")]
        pos = end + 2
        length = int(dict(headers).get("Content-Length", 0))
        frames.append((headers, text[pos : pos + length]))
        pos += length
    return frames


@pytest.fixture
def esl_sim():
    thread = SimulatorThread(esl={"agents": ["1039", "1040"], "queues": {"support": "longest-idle-agent"}})
    esl = thread.sim.esl
    esl.agents["1039@default"] = FsAgent("1039@default", "[leg_timeout=10]loopback/1039/default")
    esl.agents["1040@default"] = FsAgent("1040@default", "[leg_timeout=10]error/user_busy")
    esl.tiers = {("support@default", "1039@default"): (1, 1), ("support@default", "1040@default"): (2, 1)}
    yield thread
    thread.close()


def replay_esl(port: int, commands: list[str]) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall("".join(f"{c}\n\n" for c in commands).encode())
        return read_all(sock)


def mask_times(body: str) -> str:
    rows = [line.split("|") for line in body.split("\n")]
    for row in rows:
        if len(row) > 15 and row[15].isdigit():
            row[15] = "T"
    return "\n".join("|".join(row) for row in rows)


def test_api_session_matches_the_recording(esl_sim):
    commands, recorded = transcripts.esl("auth-ok-api.esl")
    simulated = esl_frames(replay_esl(esl_sim.sim.esl_port, commands))
    assert len(simulated) == len(recorded)
    for (want_h, want_b), (got_h, got_b), command in zip(recorded, simulated, ["(banner)", *commands], strict=False):
        if command == "api status":
            assert [k for k, _ in got_h] == [k for k, _ in want_h] and got_b.startswith("UP ")
            continue
        assert got_h == want_h, command
        assert mask_times(got_b) == mask_times(want_b), command


@pytest.mark.parametrize("name", ["auth-fail.esl", "auth-none.esl"])
def test_auth_failures_match_the_recording(esl_sim, name):
    commands, recorded = transcripts.esl(name)
    assert esl_frames(replay_esl(esl_sim.sim.esl_port, commands)) == recorded


def test_events_match_the_recording(esl_sim):
    _, recorded = transcripts.esl("events.esl")
    control_cmds, _ = transcripts.esl("events-control.esl")
    port = esl_sim.sim.esl_port
    with socket.create_connection(("127.0.0.1", port)) as listener:
        listener.sendall(b"auth ClueCon\n\nevent plain CUSTOM callcenter::info\n\n")
        read_all(listener, until=b"enabled plain\n\n", timeout=2)
        replay_esl(port, control_cmds)
        events = esl_frames(read_all(listener, timeout=1.5))
    recorded_events = [f for f in recorded if dict(f[0]).get("Content-Type") == "text/event-plain"]
    assert len(events) == len(recorded_events) == 7
    for (want_h, want_b), (got_h, got_b) in zip(recorded_events, events, strict=True):
        assert [k for k, _ in got_h] == [k for k, _ in want_h] == ["Content-Length", "Content-Type"]
        assert int(dict(got_h)["Content-Length"]) == len(got_b.encode())
        want = [tuple(line.split(": ", 1)) for line in want_b.strip("\n").split("\n")]
        got = [tuple(line.split(": ", 1)) for line in got_b.strip("\n").split("\n")]
        same_shape(want, got, ESL_VOLATILE)
        assert got_b.endswith("\n\n")


def recorded_hangup(channel: str) -> list[tuple[str, str]]:
    """The CHANNEL_HANGUP_COMPLETE of one channel in events-call-channels.esl, as (name, raw value) lines."""
    _, frames = transcripts.esl("events-call-channels.esl")
    for _, body in frames:
        lines = [tuple(line.split(": ", 1)) for line in body.split("\n") if ": " in line]
        if dict(lines).get("Event-Name") == "CHANNEL_HANGUP_COMPLETE" and dict(lines)["Channel-Name"] == channel:
            return lines
    raise LookupError(channel)


def in_order(names: list[str], recorded: list[str]) -> bool:
    """Every name is in the recording, in the recorded order (a subset)."""
    rest = iter(recorded)
    return all(name in rest for name in names)


# Hangup headers whose values are the same whatever the call (the rest are ids, times, names and numbers).
HANGUP_FIXED = {
    "Event-Name",
    "Event-Calling-File",
    "Event-Calling-Function",
    "Event-Calling-Line-Number",
    "Hangup-Cause",
    "Channel-State",
    "Channel-Call-State",
    "Channel-State-Number",
    "Call-Direction",
    "Presence-Call-Direction",
    "Channel-HIT-Dialplan",
    "Answer-State",
    "Caller-Direction",
    "Caller-Logical-Direction",
    "Caller-Dialplan",
    "Caller-Context",
    "Other-Type",
    "Other-Leg-Direction",
    "Other-Leg-Context",
    "variable_direction",
    "variable_current_application",
    "variable_cc_side",
    "variable_cc_queue",
    "variable_cc_agent",
    "variable_cc_agent_type",
    "variable_cc_agent_bridged",
    "variable_cc_cause",
    "variable_hangup_cause",
    "variable_last_app",
}


def test_channel_hangups_of_queue_calls_are_framed_like_the_recording(esl_sim):
    esl = esl_sim.sim.esl
    activity = Activity(esl_sim.sim.ami, esl, seed=1, ring=0.05, talk=(0.05, 0.05), patience=(0.1, 0.1))
    member_leg, agent_leg = recorded_hangup("loopback/9999-a"), recorded_hangup("null/agent-1039")
    with socket.create_connection(("127.0.0.1", esl_sim.sim.esl_port)) as listener:
        listener.sendall(b"auth ClueCon\n\nevent plain CUSTOM callcenter::info CHANNEL_HANGUP_COMPLETE\n\n")
        read_all(listener, until=b"enabled plain\n\n", timeout=2)
        esl.agents["1039@default"].status = "Available"
        esl_sim.run(activity.esl_call, "support@default")  # 1039 answers
        esl.agents["1039@default"].status = "On Break"
        esl_sim.run(activity.esl_call, "support@default")  # nobody does: the caller gives up
        frames = esl_frames(read_all(listener, timeout=1))
    events = []
    for headers, body in frames:
        assert [k for k, _ in headers] == ["Content-Length", "Content-Type"]
        assert dict(headers)["Content-Type"] == "text/event-plain"
        assert int(dict(headers)["Content-Length"]) == len(body.encode()) and body.endswith("\n\n")
        events.append([tuple(line.split(": ", 1)) for line in body.strip("\n").split("\n")])
    sessions = [dict(e)["CC-Member-Session-UUID"] for e in events if dict(e).get("CC-Action") == "member-queue-start"]
    hangups = [e for e in events if dict(e)["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"]
    # The answered call: the agent's phone hangs up first, then the caller. The caller who gave up: no agent leg.
    assert [dict(e)["variable_cc_side"] for e in hangups] == ["agent", "member", "member"]
    agent, member, alone = hangups
    assert (dict(member)["Unique-ID"], dict(agent)["variable_cc_member_session_uuid"]) == (sessions[0], sessions[0])
    assert dict(alone)["Unique-ID"] == sessions[1]
    assert (dict(member)["Other-Leg-Unique-ID"], dict(agent)["Other-Leg-Unique-ID"]) == (
        dict(agent)["Unique-ID"],
        dict(member)["Unique-ID"],
    )
    assert not any(name.startswith("Other-") for name, _ in alone)
    for got, want in ((agent, agent_leg), (member, member_leg), (alone, member_leg)):
        assert in_order([k for k, _ in got], [k for k, _ in want]), got
        recorded = dict(want)
        for name, value in got:
            assert not set(value) & set(' "#&+:;<=>?@[\\]^`{|}'), (name, value)  # URL-encoded, as recorded
            if name in HANGUP_FIXED:
                assert value == recorded[name], name
    cdrs = [esl_event("\n".join(f"{k}: {v}" for k, v in e) + "\n\n") for e in hangups]
    assert all(type(c) is ev.CdrRecorded for c in cdrs)
    assert [(c.call_id, c.internal, c.disposition, c.last_application) for c in cdrs] == [
        (dict(agent)["Unique-ID"], True, "ANSWERED", ""),
        (sessions[0], False, "ANSWERED", "callcenter"),
        (sessions[1], False, "ANSWERED", "callcenter"),
    ]
