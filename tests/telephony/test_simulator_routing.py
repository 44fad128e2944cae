"""The simulator keeps routing data and places click-to-call calls as the real PBXs do: AstDB and Originate over
AMI (astdb.ami, originate.ami), mod_hash and `bgapi originate` over ESL (hash.esl, originate.esl, bgapi.esl).

Replays send a recording's client lines over TCP and compare the answers with the recorded server bytes; ids,
times and host names are compared by name and position only.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from telephony.simulator.ami import encode
from telephony.simulator.runner import SimulatorThread
from tests.telephony import transcripts
from tests.telephony.test_simulator_conformance import (
    ami_frames,
    esl_frames,
    replay_ami,
    replay_esl,
    same_shape,
)

LOGIN = [("Action", "Login"), ("Username", "mayday"), ("Secret", "mayday-secret"), ("Events", "off")]
LOGOFF = [("Action", "Logoff")]
# Event headers that name the machine, the moment or the event's place in the stream.
ORIGIN = {
    "Core-UUID",
    "FreeSWITCH-Hostname",
    "FreeSWITCH-Switchname",
    "FreeSWITCH-IPv4",
    "FreeSWITCH-IPv6",
    "Event-Date-Local",
    "Event-Date-GMT",
    "Event-Date-Timestamp",
    "Event-Sequence",
}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def receive_until(sock: socket.socket, marker: bytes, timeout: float = 5.0) -> bytes:
    """Everything the peer sends until `marker` (a regular expression) has arrived."""
    sock.settimeout(timeout)
    data = b""
    while not re.search(marker, data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def silent_for(sock: socket.socket, seconds: float) -> bool:
    """Whether the peer sends nothing for that long."""
    sock.settimeout(seconds)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return True


# ---- Asterisk ------------------------------------------------------------------------------------


@pytest.fixture
def ami_sim():
    thread = SimulatorThread(ami={"secret": "mayday-secret", "endpoints": ["1005", "1006", "1007"]})
    yield thread
    thread.close()


def ami_transcript(name: str):
    """`transcripts.ami` for the later recordings, whose client lines end in LF (the server's still in CRLF)."""
    lines = [line.removesuffix("\r") for line in (transcripts.FIXTURES / "asterisk" / name).read_text().split("\n")]
    server = [line for line in lines if not line.startswith(">> ")]
    client = [line[3:] for line in lines if line.startswith(">> ")]
    return server[0], transcripts._blocks(client), transcripts._blocks(server[1:])


def ami_parse(data: bytes) -> list[list[tuple[str, str]]]:
    return [
        [tuple(line.split(": ", 1)) for line in block.split("\r\n")]
        for block in data.decode().split("\r\n\r\n")
        if block and not block.startswith("Asterisk Call Manager/")
    ]


def ami_session(port: int, events: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(encode([*LOGIN[:3], ("Events", events)]))
    assert b"Authentication accepted" in receive_until(sock, b"Authentication accepted\r\n\r\n")
    return sock


def recorded_originate_response(action_id: str) -> list[tuple[str, str]]:
    _, _, frames = ami_transcript("originate.ami")
    return next(f for f in frames if dict(f).get("Event") == "OriginateResponse" and dict(f)["ActionID"] == action_id)


def click_to_call(channel: str, action_id: str, **extra: str) -> bytes:
    return encode(
        [
            ("Action", "Originate"),
            ("Channel", channel),
            ("Context", "mayday-route"),
            ("Exten", "0700123456"),
            ("Priority", "1"),
            ("CallerID", '"0700123456" <0700123456>'),
            ("Variable", "MAYDAY_AGENT=1005"),
            ("Variable", "MAYDAY_CALL=c1"),
            *extra.items(),
            ("Async", "true"),
            ("ActionID", action_id),
        ]
    )


def test_astdb_actions_match_the_recording(ami_sim):
    banner, actions, recorded = ami_transcript("astdb.ami")
    sim_banner, simulated = ami_frames(replay_ami(ami_sim.sim.ami_port, actions))
    assert sim_banner == banner
    assert simulated == recorded
    assert ami_sim.sim.ami.astdb == {"/mayday/x": ""}  # DBPut without Val stores an empty value


def test_astdb_tree_prefixes_match_whole_segments_and_survive_a_restart(ami_sim):
    ami = ami_sim.sim.ami
    puts = [[("Action", "DBPut"), ("Family", "mayday"), ("Key", key), ("Val", key)] for key in ("prefixes", "prefix/4")]
    replay_ami(ami_sim.sim.ami_port, [LOGIN, *puts, LOGOFF])
    ami_sim.run(ami_sim.sim.restart)  # AstDB is a file on the PBX: a restart keeps it
    assert ami.astdb == {"/mayday/prefixes": "prefixes", "/mayday/prefix/4": "prefix/4"}
    tree = [("Action", "DBGetTree"), ("Family", "mayday"), ("Key", "prefix"), ("ActionID", "t")]
    _, frames = ami_frames(replay_ami(ami_sim.sim.ami_port, [LOGIN, tree, LOGOFF]))
    assert [dict(f)["Key"] for f in frames if dict(f).get("Event") == "DBGetTreeResponse"] == ["/mayday/prefix/4"]
    delete = [("Action", "DBDelTree"), ("Family", "mayday"), ("Key", "prefix")]
    replay_ami(ami_sim.sim.ami_port, [LOGIN, delete, LOGOFF])
    assert ami.astdb == {"/mayday/prefixes": "prefixes"}


def test_originate_replies_match_the_recording_and_a_caller_enters_the_queue(ami_sim):
    entered = []
    ami_sim.sim.ami.caller_entered = lambda queue, uniqueid: entered.append((queue, uniqueid))
    banner, actions, recorded = ami_transcript("originate.ami")
    sim_banner, simulated = ami_frames(replay_ami(ami_sim.sim.ami_port, actions))
    # The simulator does not play the channels' own events (Newchannel, Hangup, …): replies and OriginateResponse.
    wanted = [f for f in recorded if f[0][0] == "Response" or dict(f).get("Event") == "OriginateResponse"]
    assert sim_banner == banner
    assert len(simulated) == len(wanted) == 7
    for want, got in zip(wanted, simulated, strict=True):
        same_shape(want, got, {"Uniqueid", "Channel"} if dict(want).get("Uniqueid", "<unknown>") != "<unknown>" else ())
    answered = dict(simulated[2])
    assert re.fullmatch(r"Local/s@caller-[0-9a-f]{8};1", answered["Channel"])
    assert re.fullmatch(r"\d+\.\d+", answered["Uniqueid"])
    assert entered == [("support", answered["Uniqueid"])]  # into from-pstn/support: a simulated caller
    assert [o["actionid"] for o in ami_sim.sim.ami.originates] == ["orig-ok", "orig-fail", "orig-sync"]


def test_click_to_call_answers_once_the_phone_does_and_only_call_event_sessions_hear_it(ami_sim):
    ami = ami_sim.sim.ami
    ami.answer_delay = 0.5
    watcher, quiet = ami_session(ami_sim.sim.ami_port, "call"), ami_session(ami_sim.sim.ami_port, "off")
    with watcher, quiet:
        quiet.sendall(click_to_call("PJSIP/1005", "c2c-1"))
        assert ami_parse(receive_until(quiet, b"\r\n\r\n")) == [
            [("Response", "Success"), ("ActionID", "c2c-1"), ("Message", "Originate successfully queued")]
        ]
        assert silent_for(watcher, 0.2)  # the phone is still ringing
        [response] = ami_parse(receive_until(watcher, b"CallerIDName: 0700123456\r\n\r\n"))
        assert silent_for(quiet, 0.3)  # `Events: off` hears nothing, not even about its own call
    recorded = recorded_originate_response("orig-ok")
    same_shape(
        recorded, response, {"ActionID", "Channel", "Context", "Exten", "Uniqueid", "CallerIDNum", "CallerIDName"}
    )
    fields = dict(response)
    assert re.fullmatch(r"PJSIP/1005-[0-9a-f]{8}", fields["Channel"])
    assert (fields["ActionID"], fields["Context"], fields["Exten"]) == ("c2c-1", "mayday-route", "0700123456")
    assert (fields["CallerIDNum"], fields["CallerIDName"]) == ("0700123456", "0700123456")
    assert ami.originates[0]["variable"] == "MAYDAY_AGENT=1005,MAYDAY_CALL=c1"  # both Variable headers


def test_click_to_call_failures(ami_sim):
    ami = ami_sim.sim.ami
    ami.unanswered = {"1006"}
    with ami_session(ami_sim.sim.ami_port, "call") as sock:
        sock.sendall(click_to_call("PJSIP/4321", "unknown"))
        [_, unknown] = ami_parse(receive_until(sock, b"CallerIDName: 0700123456\r\n\r\n"))
        started = time.monotonic()
        sock.sendall(click_to_call("PJSIP/1006", "ringing", Timeout="300"))
        frames = ami_parse(receive_until(sock, b"CallerIDName: 0700123456\r\n\r\n"))
        waited = time.monotonic() - started
    # An endpoint that does not exist: as recorded for a channel that could not be created.
    same_shape(
        recorded_originate_response("orig-fail"),
        unknown,
        {"ActionID", "Channel", "Context", "Exten", "CallerIDNum", "CallerIDName"},
    )
    assert (dict(unknown)["ActionID"], dict(unknown)["Channel"]) == ("unknown", "PJSIP/4321")
    # A phone that rings until the Timeout: Reason 3 (AST_CONTROL_RINGING), after 300 ms.
    ringing = dict(frames[-1])
    assert (ringing["Response"], ringing["Reason"], ringing["Uniqueid"]) == ("Failure", "3", "<unknown>")
    assert waited >= 0.3
    assert len(ami.originates) == 2


# ---- FreeSWITCH ----------------------------------------------------------------------------------


@pytest.fixture
def esl_sim():
    thread = SimulatorThread(esl={"agents": ["1039", "1040"], "queues": {"support": "longest-idle-agent"}})
    yield thread
    thread.close()


def esl_blocks(lines: list[str]) -> list[str]:
    """The recorded client lines as commands: a header line (`Job-UUID: …`) belongs to the command before it."""
    blocks: list[str] = []
    for line in lines:
        if re.match(r"[A-Za-z-]+: ", line) and blocks:
            blocks[-1] += "\n" + line
        elif line:
            blocks.append(line)
    return blocks


def esl_session(port: int, *commands: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall("".join(f"{c}\n\n" for c in ("auth ClueCon", *commands)).encode())
    receive_until(sock, b"enabled plain\n\n" if commands else rb"\+OK accepted\n\n")
    return sock


def job_event(body: str) -> tuple[list[tuple[str, str]], str]:
    """A BACKGROUND_JOB's headers (its own Content-Length last) and the job's output."""
    head, _, output = body.partition("\n\n")
    return [tuple(line.split(": ", 1)) for line in head.split("\n")], output


def replies_and_jobs(frames):
    """Leave out what the simulator does not play: channel events, and the reply to `api hupall`."""
    return [
        (h, b)
        for h, b in frames
        if dict(h)["Content-Type"] not in ("text/event-plain", "api/response")
        or job_event(b)[0][0] == ("Event-Name", "BACKGROUND_JOB")
    ]


def same_frames(recorded, simulated, client_jobs: tuple[str, ...] = ()) -> None:
    """Replies and BACKGROUND_JOB events as recorded. The job ids the client chose must come back; those the
    server chose, and a new channel's uuid in a job's output, are compared by form."""
    assert len(simulated) == len(recorded)
    for (want_h, want_b), (got_h, got_b) in zip(recorded, simulated, strict=True):
        if dict(want_h).get("Content-Type") != "text/event-plain":
            recorded_job = dict(want_h).get("Job-UUID")
            if recorded_job and recorded_job not in client_jobs:
                job = dict(got_h)["Job-UUID"]
                assert re.fullmatch(UUID, job)
                assert got_h == [
                    ("Content-Type", "command/reply"),
                    ("Reply-Text", f"+OK Job-UUID: {job}"),
                    ("Job-UUID", job),
                ]
            else:
                assert (got_h, got_b) == (want_h, want_b)
            continue
        assert [k for k, _ in got_h] == ["Content-Length", "Content-Type"]
        assert int(dict(got_h)["Content-Length"]) == len(got_b.encode())
        (want_head, want_out), (got_head, got_out) = job_event(want_b), job_event(got_b)
        if dict(want_head)["Job-Command"] == "status":  # the uptime and counters are the machine's
            want_head, got_head = want_head[:-1], got_head[:-1]
            assert got_out.startswith("UP ")
        else:
            assert re.sub(UUID, "U", got_out) == re.sub(UUID, "U", want_out)
        same_shape(want_head, got_head, ORIGIN if dict(want_head)["Job-UUID"] in client_jobs else ORIGIN | {"Job-UUID"})


def test_hash_matches_the_recording_byte_for_byte(esl_sim):
    commands, recorded = transcripts.esl("hash.esl")
    assert esl_frames(replay_esl(esl_sim.sim.esl_port, esl_blocks(commands))) == recorded


def test_hash_is_emptied_by_a_restart(esl_sim):
    port = esl_sim.sim.esl_port
    replay_esl(port, ["auth ClueCon", "api hash insert/mayday/prefix_45/0323300245", "exit"])
    assert esl_sim.sim.esl.hash == {("mayday", "prefix_45"): "0323300245"}
    esl_sim.run(esl_sim.sim.restart)  # mod_hash lives in memory
    frames = esl_frames(replay_esl(port, ["auth ClueCon", "api hash select/mayday/prefix_45", "exit"]))
    assert frames[2] == ([("Content-Type", "api/response"), ("Content-Length", "14")], "-ERR no reply\n")


def test_bgapi_jobs_match_the_recording_and_keep_the_clients_job_uuid(esl_sim):
    commands, recorded = transcripts.esl("bgapi.esl")
    simulated = esl_frames(replay_esl(esl_sim.sim.esl_port, esl_blocks(commands)))
    # The second job's id is the client's, sent in a `Job-UUID:` line after its bgapi command.
    same_frames(recorded, simulated, client_jobs=("11111111-2222-3333-4444-555555555555",))


def test_bgapi_originate_matches_the_recording(esl_sim):
    """The recorded call that answered went to a loopback extension; here it rings a configured user."""
    esl = esl_sim.sim.esl
    esl.answer_delay = 0  # the job ends before the next command, as it did on the recording
    commands, recorded = transcripts.esl("originate.esl")
    commands = [c.replace("loopback/9999/default", "user/1039@default") for c in commands]
    simulated = esl_frames(replay_esl(esl_sim.sim.esl_port, esl_blocks(commands)))
    recorded = [(h, b.replace("loopback/9999/default", "user/1039%40default")) for h, b in recorded]
    same_frames(replies_and_jobs(recorded), replies_and_jobs(simulated))
    outputs = [job_event(b)[1] for h, b in replies_and_jobs(simulated) if dict(h)["Content-Type"] == "text/event-plain"]
    assert re.fullmatch(rf"\+OK {UUID}\n", outputs[0])
    assert outputs[1:] == ["-ERR NO_ROUTE_DESTINATION\n", "-ERR SUBSCRIBER_ABSENT\n"]
    assert [o["extension"] for o in esl.originates] == ["1039", "", "nobody"]
    assert esl.originates[0] == {
        "variables": {
            "origination_caller_id_number": "0323300245",
            "origination_caller_id_name": "0323300245",
            "mayday_call_id": "abc123",
        },
        "endpoint": "user/1039@default",
        "extension": "1039",
        "domain": "default",
        "destination": "&park()",
        "dialplan": "XML",
        "context": "default",
    }


ORIGINATE = (
    "bgapi originate {origination_caller_id_number=0700123456,mayday_call_id=c1%s}user/%s@default "
    "0700123456 XML mayday-route"
)


def test_bgapi_originate_ends_when_the_phone_answers_and_keeps_the_clients_job_uuid(esl_sim):
    esl = esl_sim.sim.esl
    esl.answer_delay = 0.5
    job = "0f0e0d0c-0b0a-4908-8706-050403020100"
    with esl_session(esl_sim.sim.esl_port, "event plain BACKGROUND_JOB") as sock:
        sock.sendall(f"{ORIGINATE % ('', '1039')}\nJob-UUID: {job}\n\n".encode())
        reply = receive_until(sock, b"\n\n")
        assert reply == f"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\nJob-UUID: {job}\n\n".encode()
        assert silent_for(sock, 0.2)  # the phone is still ringing
        [(_, body)] = esl_frames(receive_until(sock, rb"\+OK [0-9a-f-]{36}\n"))
    fields, output = job_event(body)
    assert dict(fields)["Job-UUID"] == job and dict(fields)["Job-Command"] == "originate"
    assert re.fullmatch(rf"\+OK {UUID}\n", output)
    assert esl.originates[0]["variables"] == {"origination_caller_id_number": "0700123456", "mayday_call_id": "c1"}
    assert (esl.originates[0]["destination"], esl.originates[0]["context"]) == ("0700123456", "mayday-route")


def test_bgapi_originate_to_a_phone_nobody_answers_and_to_an_unknown_user(esl_sim):
    esl = esl_sim.sim.esl
    esl.unanswered = {"1040"}
    with esl_session(esl_sim.sim.esl_port, "event plain BACKGROUND_JOB") as sock:
        started = time.monotonic()
        sock.sendall(f"{ORIGINATE % (',originate_timeout=0.3', '1040')}\n\n".encode())
        unanswered = esl_frames(receive_until(sock, b"-ERR NO_ANSWER\n"))
        waited = time.monotonic() - started
        sock.sendall(f"{ORIGINATE % ('', '9999')}\n\n".encode())
        unknown = esl_frames(receive_until(sock, b"-ERR SUBSCRIBER_ABSENT\n"))
    assert waited >= 0.3  # it rang until the originate timeout
    assert [job_event(b)[1] for h, b in unanswered + unknown if dict(h)["Content-Type"] == "text/event-plain"] == [
        "-ERR NO_ANSWER\n",
        "-ERR SUBSCRIBER_ABSENT\n",
    ]
    assert [o["extension"] for o in esl.originates] == ["1040", "9999"]


def test_a_session_not_subscribed_to_background_jobs_gets_only_the_reply(esl_sim):
    esl_sim.sim.esl.answer_delay = 0.05
    with esl_session(esl_sim.sim.esl_port) as sock:
        sock.sendall(f"{ORIGINATE % ('', '1039')}\n\n".encode())
        assert b"Reply-Text: +OK Job-UUID: " in receive_until(sock, b"\n\n")
        assert silent_for(sock, 0.5)
    assert len(esl_sim.sim.esl.originates) == 1
