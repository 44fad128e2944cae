"""The simulator answers the recorded actions as the real PBXs did: same framing, header names and order, texts.

Values that differ by nature (times, ids, addresses, uptime) are compared by name and position only.
"""

from __future__ import annotations

import socket
import time

import pytest

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
