"""Fuzzing the AMI and ESL parsers: whatever bytes a PBX (or a caller who controls a caller-ID name) sends, the
parsers never raise anything their callers do not catch, never forge or hide a header because of what a value
contains, and read a TCP stream the same way however it is split into packets.

The strategies start from the recorded transcripts in tests/fixtures and mutate them (hostile header values with
CR, LF, `%0A`, `%0D`, `: `, non-ASCII and very long text, dropped, duplicated and invented headers, truncated
frames, odd Content-Lengths, arbitrary chunkings), and also feed plain random text and bytes. No database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import re
from types import SimpleNamespace
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from telephony.pbx import events as ev
from telephony.pbx.asterisk import AmiProtocol, ami_event, extension_of
from telephony.pbx.base import PbxError, Snapshot, contact_address
from telephony.pbx.freeswitch import (
    EslConnection,
    check_reply,
    esl_event,
    parse_event_body,
    parse_table,
    snapshot_from_tables,
    take_frames,
)
from tests.telephony import transcripts

FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

AMI_FILES = sorted(p.name for p in (transcripts.FIXTURES / "asterisk").glob("*.ami"))
ESL_FILES = sorted(p.name for p in (transcripts.FIXTURES / "freeswitch").glob("*.esl"))
BANNER = b"Asterisk Call Manager/13.0.0\r\n"


# ---- the recorded material -------------------------------------------------------------------------


@functools.cache
def ami_wire(name: str) -> bytes:
    """The bytes Asterisk sent in a transcript (the client's `>> ` lines removed)."""
    text = (transcripts.FIXTURES / "asterisk" / name).read_bytes().decode()
    return "\r\n".join(line for line in text.split("\r\n") if not line.startswith(">>")).encode()


@functools.cache
def ami_frames() -> tuple[tuple[tuple[str, str], ...], ...]:
    return tuple(tuple(frame) for name in AMI_FILES for frame in transcripts.ami(name)[2])


@functools.cache
def ami_mapped_events() -> tuple[tuple[tuple[str, str], ...], ...]:
    """Pushed events the fast lane hands to the listener (mapped name, no ActionID, Event first)."""
    return tuple(
        f
        for f in ami_frames()
        if f and f[0][0] == "Event" and f[0][1] in AmiProtocol.wanted and "ActionID" not in dict(f)
    )


@functools.cache
def esl_wire(name: str) -> bytes:
    """The bytes FreeSWITCH sent in a transcript (the client's `>> ` lines removed)."""
    return re.sub(rb">> .*\n", b"", (transcripts.FIXTURES / "freeswitch" / name).read_bytes())


@functools.cache
def esl_frames() -> tuple[tuple[tuple[tuple[str, str], ...], str], ...]:
    return tuple((tuple(h), body) for name in ESL_FILES for h, body in transcripts.esl(name)[1])


@functools.cache
def cc_bodies() -> tuple[str, ...]:
    """Every recorded mod_callcenter event body esl_event maps to an event."""
    return tuple(
        body
        for headers, body in esl_frames()
        if dict(headers).get("Content-Type") == "text/event-plain" and esl_event(body) is not None
    )


@functools.cache
def api_bodies() -> tuple[str, ...]:
    return tuple(body for headers, body in esl_frames() if dict(headers).get("Content-Type") == "api/response")


# ---- strategies ------------------------------------------------------------------------------------

NASTY = [
    "\r",
    "\n",
    "\r\n",
    "\r\n\r\n",
    "\n\n",
    "%0A",
    "%0a",
    "%0D",
    "%0D%0A",
    "%0A%0A",
    "%",
    "%zz",
    "%E9",
    "%C3",
    ": ",
    ":",
    " ",
    "\t",
    "@",
    "/",
    "|",
    ";",
    "Event: QueueMemberRemoved",
    "ActionID: 1",
    "ActionID: ",
    "Response: Success",
    "CC-Action: agent-status-change",
    "%0ACC-Action: bridge-agent-start",
    "Event-Subclass: callcenter%3A%3Ainfo",
    "Content-Length: 5",
    "Queue: evil",
    "Interface: PJSIP/6666",
    "é",
    "日本語",
    "\x00",
    "\x85",
    "\u2028",
    "\ufeff",
    "\u00b2",
    "\u0663",
    "-1",
    "9" * 40,
]
piece = st.sampled_from(NASTY) | st.text(max_size=12)
hostile_text = st.lists(piece, max_size=6).map("".join)
long_text = st.integers(1_000, 20_000).map(lambda n: "x" * n)
header_value = st.one_of(hostile_text, hostile_text, hostile_text, long_text)
# A value that stays one AMI line: CRLF is the AMI line break, so a value holding it is a new header by protocol.
ami_line_value = header_value.filter(lambda v: "\r\n" not in v)
# A value as FreeSWITCH puts it on a line: no raw LF; encoded either fully (as FreeSWITCH does) or only in part.
esl_raw_value = st.one_of(
    header_value.map(lambda v: quote(v, safe="")),
    header_value.filter(lambda v: "\n" not in v),
)

known_ami_keys = sorted({k for f in ami_frames() for k, _ in f})
ami_key = st.sampled_from(known_ami_keys) | st.text(min_size=1, max_size=12)


@st.composite
def mutated_ami_frame(draw, pool=ami_frames) -> list[tuple[str, str]]:
    frame = list(draw(st.sampled_from(pool())))
    for op in draw(st.lists(st.sampled_from(["set", "drop", "dup", "add", "event"]), max_size=4)):
        i = draw(st.integers(0, max(len(frame) - 1, 0)))
        if op == "set" and frame:
            frame[i] = (frame[i][0], draw(header_value))
        elif op == "drop" and frame:
            del frame[i]
        elif op == "dup" and frame:
            frame.insert(i, frame[i])
        elif op == "add":
            frame.insert(i, (draw(ami_key), draw(header_value)))
        elif op == "event":
            frame.insert(0, ("Event", draw(st.sampled_from(sorted(AmiProtocol.wanted)) | hostile_text)))
    return frame


def ami_bytes(frame: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in frame).encode() + b"\r\n"


@st.composite
def ami_stream(draw) -> bytes:
    """A banner (or not), then real frames mutated, random bytes and truncations between them."""
    parts = [draw(st.sampled_from([BANNER, b"", BANNER[:9]]))]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["frame", "frame", "frame", "bytes", "cut"]))
        if kind == "bytes":
            parts.append(draw(st.binary(max_size=40)))
        else:
            raw = ami_bytes(draw(mutated_ami_frame()))
            parts.append(raw[: draw(st.integers(0, len(raw)))] if kind == "cut" else raw)
    return b"".join(parts)


@st.composite
def chunked(draw, data: bytes) -> list[bytes]:
    """`data` split at arbitrary points, as TCP may deliver it (single bytes included)."""
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=24))))
    if draw(st.booleans()) and len(data) < 400:
        cuts = list(range(len(data) + 1))  # one byte at a time
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@st.composite
def mutated_cc_body(draw) -> str:
    """A recorded mod_callcenter event body, its lines dropped, duplicated, invented, truncated or extended."""
    lines = draw(st.sampled_from(cc_bodies())).split("\n")
    for op in draw(st.lists(st.sampled_from(["set", "drop", "dup", "add", "cut", "tail", "blank"]), max_size=5)):
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "set" and lines:
            key = lines[i].partition(": ")[0]
            lines[i] = f"{key}: {draw(esl_raw_value | st.sampled_from(list(CC_VALUES)))}"
        elif op == "drop" and lines:
            del lines[i]
        elif op == "dup" and lines:
            lines.insert(i, lines[i])
        elif op == "add":
            lines.insert(i, f"{draw(st.sampled_from(CC_KEYS) | hostile_text)}: {draw(st.sampled_from(CC_VALUES))}")
        elif op == "cut":
            lines = lines[:i]
        elif op == "tail":  # an event body after the headers
            lines += ["", *draw(st.lists(st.sampled_from(CC_KEYS).map(lambda k: f"{k}: x") | hostile_text))]
        elif op == "blank":
            lines.insert(i, "")
    body = "\n".join(lines)
    return body[: draw(st.integers(0, len(body)))] if draw(st.booleans()) else body


CC_KEYS = [
    "CC-Action",
    "Event-Subclass",
    "CC-Agent",
    "CC-Queue",
    "CC-Agent-Status",
    "CC-Agent-State",
    "CC-Member-Session-UUID",
    "CC-Member-CID-Name",
    "CC-Member-Joined-Time",
    "CC-Agent-Called-Time",
    "CC-Agent-Answered-Time",
    "Event-Date-Timestamp",
]
CC_VALUES = [
    "agent-status-change",
    "agent-state-change",
    "member-queue-start",
    "member-queue-end",
    "agent-offering",
    "bridge-agent-start",
    "bridge-agent-end",
    "bridge-agent-fail",
    "members-count",
    "callcenter%3A%3Ainfo",
    "callcenter::info",
    "On%20Break",
    "1039%40default",
    "support%40default",
    "@",
    "",
    "-5",
    "1795239290",
    "1795239300500000",
    "9" * 5000,
    "\u0663",
]


ODD_LENGTHS = ["-1", "-0", "abc", "", " 5", "+3", "\u0665", "1e3", "0x10", "99999999", "9" * 5000]


@st.composite
def esl_stream(draw) -> bytes:
    """Recorded ESL frames with hostile Content-Lengths and headers, random bytes and truncations."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["frame", "frame", "frame", "bytes", "cut"]))
        if kind == "bytes":
            parts.append(draw(st.binary(max_size=60)))
            continue
        headers, body = draw(st.sampled_from(esl_frames()))
        headers = list(headers)
        for op in draw(st.lists(st.sampled_from(["length", "drop", "add", "body"]), max_size=3)):
            if op == "length":
                length = draw(st.sampled_from(ODD_LENGTHS) | st.integers(0, len(body.encode()) + 20).map(str))
                headers = [(k, v) for k, v in headers if k != "Content-Length"] + [("Content-Length", length)]
            elif op == "drop" and headers:
                del headers[draw(st.integers(0, len(headers) - 1))]
            elif op == "add":
                headers.append(
                    (draw(st.sampled_from(["Content-Type", "Reply-Text", "X"]) | hostile_text), draw(hostile_text))
                )
            elif op == "body":
                body = draw(hostile_text)
        raw = "".join(f"{k}: {v}\n" for k, v in headers).encode() + b"\n" + body.encode()
        parts.append(raw[: draw(st.integers(0, len(raw)))] if kind == "cut" else raw)
    return b"".join(parts)


# ---- helpers ---------------------------------------------------------------------------------------


def feed_ami(chunks: list[bytes]):
    """Feed chunks to a fresh AmiProtocol the way the listener wires it; return what came out."""
    sunk, handled = [], []
    protocol = AmiProtocol()
    protocol.connection_made(SimpleNamespace(close=lambda: None))
    protocol.factory = SimpleNamespace(event_sink=sunk.append)
    protocol.handle_message = lambda m: handled.append((dict(m), m.content))
    for chunk in chunks:
        protocol.data_received(chunk)
    protocol.data_received(b"\r\n\r\n")  # flush the last frame
    return sunk, handled, protocol.version


def assert_well_typed(event) -> None:
    """A normalized event is one of the Event classes and each field has the type it declares."""
    assert isinstance(event, ev.Event)
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        expected = {"str": str, "int": int, "float": (float, int), "bool": bool, "int | None": (int, type(None))}[
            field.type
        ]
        assert isinstance(value, expected), (field.name, value)
        if field.type == "int":
            assert not isinstance(value, bool)


def assert_well_typed_or_none(event) -> None:
    if event is not None:
        assert_well_typed(event)


def read_frames(chunks: list[bytes], limit: int = 2**16):
    """take_frames over a buffer fed chunk by chunk, as EslConnection feeds it, until it raises: (frames, the
    error or None, the bytes left over). ValueError is what EslConnection catches (it then closes, and the
    listener reconnects); anything else is a bug."""
    buffer, frames = bytearray(), []
    try:
        for chunk in chunks:
            buffer += chunk
            for frame in take_frames(buffer, limit):
                frames.append(frame)
    except ValueError as exc:
        return frames, exc, bytes(buffer)
    return frames, None, bytes(buffer)


# ---- AMI: the frame splitter (AmiProtocol.data_received) --------------------------------------------


@FEW
@given(data=st.data(), name=st.sampled_from(AMI_FILES))
def test_ami_transcripts_give_the_same_frames_however_tcp_splits_them(data, name):
    wire = ami_wire(name)
    whole = feed_ami([wire])
    assert whole[2] == "13.0.0"
    assert feed_ami(data.draw(chunked(wire))) == whole


@FUZZ
@given(data=st.data(), stream=ami_stream())
@example(data=None, stream=BANNER + "Event: QueueCallerJoin\r\nQueue: q\r\nCallerIDName: José\r\n\r\n".encode())
def test_ami_splitter_never_raises_and_ignores_packet_boundaries(data, stream):
    whole = feed_ami([stream])
    chunks = data.draw(chunked(stream)) if data else [stream[:2], stream[2:-30], stream[-30:-27], stream[-27:]]
    assert feed_ami(chunks) == whole
    for frame in whole[0]:
        assert isinstance(frame["Event"], str)
        assert_well_typed_or_none(ami_event(frame))


@FUZZ
@given(data=st.data(), frame=st.sampled_from(ami_mapped_events()))
@example(data=None, frame=(("Event", "QueueCallerJoin"), ("Queue", "support"), ("CallerIDName", "x ActionID: 1")))
def test_an_ami_value_never_adds_drops_or_hides_a_header(data, frame):
    """Any value without CRLF (the AMI line break) reaches the listener as that one value of that one header."""
    frame = list(frame)
    if data:
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(1, len(frame) - 1)) if len(frame) > 1 else 0
            if i:
                frame[i] = (frame[i][0], data.draw(ami_line_value))
    expected = dict(frame)
    last_key = frame[-1][0]
    expected[last_key] = expected[last_key].rstrip()  # the frame is stripped: trailing blanks are not data
    wire = BANNER + b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n" + ami_bytes(frame)
    sunk, handled, _ = feed_ami(data.draw(chunked(wire)) if data else [wire])
    assert sunk == [expected]
    assert [m["Response"] for m, _ in handled] == ["Success"]
    event = ami_event(sunk[0])
    assert event == ami_event(expected)
    assert_well_typed_or_none(event)


# ---- AMI: the normalizer ---------------------------------------------------------------------------

ami_dicts = st.one_of(
    mutated_ami_frame().map(dict),
    mutated_ami_frame(ami_mapped_events).map(dict),
    st.dictionaries(ami_key, header_value, max_size=8).flatmap(
        lambda d: st.sampled_from(sorted(AmiProtocol.wanted)).map(lambda name: {**d, "Event": name})
    ),
    st.dictionaries(ami_key, header_value, max_size=8),
)


@FUZZ
@given(frame=ami_dicts)
@example(frame={"Event": "QueueMemberAdded"})
@example(frame={"Event": "AgentConnect", "Interface": "PJSIP/1005"})
def test_ami_event_on_any_frame_is_a_well_typed_event_or_none(frame):
    assert_well_typed_or_none(ami_event(frame))


@FUZZ
@given(frame=mutated_ami_frame(ami_mapped_events))
def test_ami_events_missing_the_queue_or_member_are_dropped_not_invented(frame):
    """A queue/member event without the header that names its queue or member cannot be applied to anything."""
    fields = dict(frame)
    event = ami_event(fields)
    if event is not None and hasattr(event, "queue"):
        assert "Queue" in fields and event.queue == fields["Queue"]
    if event is not None and hasattr(event, "extension"):
        assert "Interface" in fields and event.extension == extension_of(fields["Interface"])


@FUZZ
@given(
    tech=st.sampled_from(["PJSIP", "SIP", "Local", "IAX2"]),
    ext=st.from_regex(r"[A-Za-z0-9_.*#+-]{1,12}", fullmatch=True),
    tail=st.sampled_from(["", "@agent-phones/n", "/n", ";x=1", "@ctx"]),
)
def test_extension_of_names_the_extension_of_any_interface(tech, ext, tail):
    assert extension_of(f"{tech}/{ext}{tail}") == ext


@FUZZ
@given(text=hostile_text)
def test_extension_of_any_text_is_text(text):
    assert isinstance(extension_of(text), str)


contact_uri = st.lists(
    st.sampled_from(["sip:", "sips:", "1005", "@", "10.0.0.5", "[", "::1", "]", ":", "5060", ";transport=", "TCP", ";"])
    | piece,
    max_size=8,
).map("".join)


@FUZZ
@given(uri=contact_uri)
@example(uri="sip:1005@10.0.0.5:²")
def test_contact_address_of_any_uri_is_host_port_transport(uri):
    host, port, transport = contact_address(uri)
    assert isinstance(host, str) and isinstance(transport, str)
    assert port is None or isinstance(port, int)


# ---- ESL: framing (take_frames) --------------------------------------------------------------------


@FEW
@given(data=st.data(), name=st.sampled_from(ESL_FILES))
def test_esl_transcripts_give_the_same_frames_however_tcp_splits_them(data, name):
    wire = esl_wire(name)
    frames, error, left = read_frames(data.draw(chunked(wire)))
    assert error is None and left == b""
    assert frames == [(dict(h), body) for h, body in transcripts.esl(name)[1]]


@FUZZ
@given(data=st.data(), stream=esl_stream(), limit=st.sampled_from([64, 2**16]))
@example(data=None, stream=b"Content-Type: auth/request\n" + b"X" * 70_000 + b"\n\n", limit=2**16)
@example(data=None, stream=b"Content-Length: -1\n\n", limit=2**16)
@example(data=None, stream=b"Content-Length: 1\n\n\xff", limit=2**16)
def test_take_frames_gives_whole_frames_or_raises_what_the_connection_catches(data, stream, limit):
    chunks = data.draw(chunked(stream)) if data else [stream]
    frames, error, left = read_frames(chunks, limit)
    for headers, body in frames:
        assert all("\n" not in k + v for k, v in headers.items())
        assert len(body.encode()) == int(headers.get("Content-Length", 0))
    whole_frames, whole_error, whole_left = read_frames([stream], limit)
    assert (whole_frames, type(whole_error)) == (frames, type(error))
    if error is None:  # what is left is a frame still arriving, whichever way the bytes came
        assert whole_left == left


GREETING = b"Content-Type: auth/request\n\n"


@FUZZ
@given(stream=esl_stream() | esl_stream().map(lambda s: GREETING + s))
@example(stream=b"Content-Type: auth/request\n" + b"X" * 70_000 + b"\n\n")
@example(stream=b"Content-Length: 1\n\n\xff")
@example(stream=GREETING + b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
@example(stream=GREETING + b"Content-Length: x\n\n")
def test_esl_login_on_any_greeting_succeeds_or_fails_as_a_pbx_error(stream):
    """The listener turns PbxError (and OSError, timeouts) into a reconnect; anything else would end it. A server
    on loopback sends the bytes and hangs up; the connection ends quietly, whatever it read."""

    async def login() -> list:
        loop = asyncio.get_running_loop()
        errors = []  # what the loop was left with: an exception nobody retrieved, an error in a callback
        loop.set_exception_handler(lambda _, context: errors.append(context))

        async def serve(reader, writer) -> None:
            writer.write(stream)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        conn = EslConnection()
        try:
            await conn.open("127.0.0.1", server.sockets[0].getsockname()[1], "ClueCon", timeout=2)
        except PbxError:
            pass
        conn.close()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0)
        return errors

    assert asyncio.run(login()) == []


# ---- ESL: event bodies (parse_event_body, esl_event) -----------------------------------------------


@FUZZ
@given(data=st.data(), body=st.sampled_from(cc_bodies()))
@example(data=None, body=cc_bodies()[0])
def test_an_encoded_newline_in_an_esl_value_never_forges_a_header(data, body):
    lines = body.split("\n")
    header_end = lines.index("") if "" in lines else len(lines)
    # The headers that say what the event is (a member-queue-end's cause says how the caller left).
    naming = ("CC-Action", "Event-Subclass", "Event-Name", "CC-Cause", "CC-Cancel-Reason")
    keys = [line.partition(": ")[0] for line in lines[:header_end]]
    # A header sent twice (CHANNEL_HANGUP_COMPLETE repeats Hangup-Cause) reads as its last copy: change single ones.
    candidates = [i for i, key in enumerate(keys) if key not in naming and keys.count(key) == 1]
    i = data.draw(st.sampled_from(candidates)) if data else candidates[0]
    raw = data.draw(esl_raw_value) if data else "Evil%0ACC-Action: agent-status-change%0A%0AEvent-Subclass: x"
    key = lines[i].partition(": ")[0]
    lines[i] = f"{key}: {raw}"
    forged = "\n".join(lines)

    expected = parse_event_body(body)
    expected[key] = unquote(raw)
    assert parse_event_body(forged) == expected
    original, event = esl_event(body), esl_event(forged)
    assert type(event) is type(original)
    assert_well_typed(event)
    if key == "CC-Member-CID-Name" and isinstance(event, ev.MemberQueueStart):
        assert event.caller_name == unquote(raw)
        assert dataclasses.replace(event, caller_name=original.caller_name) == original


ACTION_CLASS = {
    "agent-status-change": ev.AgentStatusChanged,
    "agent-state-change": ev.AgentStateChanged,
    "member-queue-start": ev.MemberQueueStart,
    "member-queue-end": (ev.MemberQueueEnd, ev.QueueExit, ev.CallerAbandoned),  # answered, or left how
    "agent-offering": ev.AgentCalled,
    "bridge-agent-start": ev.AgentConnected,
    "bridge-agent-end": ev.AgentCompleted,
    "bridge-agent-fail": ev.AgentRingNoAnswer,
}


@FUZZ
@given(body=mutated_cc_body() | hostile_text)
@example(body="Event-Subclass: callcenter%3A%3Ainfo\nCC-Action: members-count\n\nCC-Action: agent-status-change\n")
@example(body="Event-Subclass: callcenter%3A%3Ainfo\nCC-Action: agent-status-change\nCC-Action: members-count\n")
def test_esl_event_on_any_body_is_the_event_its_headers_name_or_none(body):
    headers = parse_event_body(body)
    assert all("\n" not in key for key in headers)
    event = esl_event(body)
    if type(event) is ev.CdrRecorded:
        assert_well_typed(event)
        assert headers.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE" and "CC-Action" not in headers
    elif event is not None:
        assert_well_typed(event)
        assert headers.get("Event-Subclass") == "callcenter::info"
        assert isinstance(event, ACTION_CLASS[headers.get("CC-Action", "")])


# ---- ESL: api replies (check_reply, parse_table, snapshot_from_tables) ------------------------------


@FUZZ
@given(
    body=hostile_text | st.sampled_from(api_bodies()),
    tolerate=st.lists(st.sampled_from(["not found", "no reply", ""]), max_size=2),
)
def test_check_reply_passes_ok_text_and_refuses_err_as_a_pbx_error(body, tolerate):
    text = body.strip()
    refused = text.startswith("-ERR") and not any(t in text for t in tolerate)
    try:
        assert check_reply(body, tolerate=tuple(tolerate)) == text
        assert not refused
    except PbxError as exc:
        assert refused and not exc.retryable


@st.composite
def mutated_table(draw) -> str:
    tables = [b for b in api_bodies() if "|" in b.partition("\n")[0]] or [""]
    lines = draw(st.sampled_from(tables)).split("\n")
    for op in draw(st.lists(st.sampled_from(["set", "drop", "add", "err"]), max_size=4)):
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "set" and lines:
            cells = lines[i].split("|")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(
                hostile_text | st.sampled_from(["1039@default", "support@default", "-3", "9" * 5000])
            )
            lines[i] = "|".join(cells)
        elif op == "drop" and lines:
            del lines[i]
        elif op == "add":
            lines.insert(i, draw(hostile_text))
        elif op == "err":
            lines.insert(0, "-ERR " + draw(hostile_text))
    return "\n".join(lines)


tables = mutated_table() | hostile_text


@FUZZ
@given(body=tables)
def test_parse_table_gives_rows_or_a_pbx_error(body):
    try:
        rows = parse_table(body)
    except PbxError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for row in rows for k, v in row.items())


@FUZZ
@given(agents=tables, tiers=tables, queues=tables, domain=st.sampled_from(["default", "elsewhere", ""]) | hostile_text)
def test_a_snapshot_from_any_tables_is_consistent_or_a_pbx_error(agents, tiers, queues, domain):
    try:
        snap = snapshot_from_tables(agents, tiers, queues, domain)
    except PbxError:
        return
    assert isinstance(snap, Snapshot)
    for member in snap.members:
        assert member.queue in snap.queues and member.extension and member.penalty >= 0
        assert isinstance(member.calls_taken, int) and isinstance(member.last_call, int)
