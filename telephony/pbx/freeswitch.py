"""FreeSWITCH mod_callcenter over the event socket (ESL).

Commands from tasks go through greenswitch, whose `send()` can block forever:
every call runs under a `gevent.Timeout`, and the connection is opened inside
the task that uses it (a greenswitch connection belongs to its thread).

The listener reads events with `EslConnection`, a small asyncio client that
frames by Content-Length and splits event bodies into lines *before*
URL-decoding values: greenswitch decodes first, so an encoded newline in a
caller name could forge headers there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from urllib.parse import unquote

from telephony import validators
from telephony.pbx import events as ev
from telephony.pbx import routing
from telephony.pbx.base import (
    COMMAND_TIMEOUT,
    RING_SECONDS,
    AgentMode,
    MemberState,
    Observed,
    Originated,
    PbxBackend,
    PbxError,
    Seat,
    Snapshot,
    checked,
    quiet,
    register,
    validate_call,
    validate_routing,
)

# Canonical spellings: FreeSWITCH accepts any case but stores what it is given, and a
# lower-case "available" agent may never be offered a call.
STATUSES = ["Logged Out", "Available", "Available (On Demand)", "On Break"]
STATES = ["Waiting", "Receiving", "In a queue call", "Idle", "Reserved"]
STATUS_OF = {
    AgentMode.AVAILABLE: "Available",
    AgentMode.ON_BREAK: "On Break",
    AgentMode.LOGGED_OUT: "Logged Out",
}
AVAILABILITY_OF = {
    "Available": AgentMode.AVAILABLE,
    "Available (On Demand)": AgentMode.AVAILABLE,
    "On Break": AgentMode.ON_BREAK,
    "Logged Out": AgentMode.LOGGED_OUT,
}
_STATE_DEVICE = {
    "Waiting": "not_in_use",
    "Receiving": "ringing",
    "In a queue call": "in_use",
    "Idle": "not_in_use",
    "Reserved": "ringing",
}


def canonical(value: str, allowed: list[str], what: str) -> str:
    for word in allowed:
        if value.lower() == word.lower():
            return word
    raise PbxError(f"{value!r} is not a FreeSWITCH agent {what}: use one of {', '.join(allowed)}", retryable=False)


def _quoted(word: str) -> str:
    # callcenter_config splits on spaces; only single quotes keep 'On Break' together.
    return f"'{word}'" if " " in word else word


def agent_id(extension: str, domain: str) -> str:
    return f"{checked(validators.validate_extension, extension)}@{checked(validators.validate_domain, domain)}"


def queue_id(queue: str, domain: str) -> str:
    return f"{checked(validators.validate_name, queue)}@{checked(validators.validate_domain, domain)}"


def cmd_agent_status(extension: str, domain: str, status: str) -> str:
    status = _quoted(canonical(status, STATUSES, "status"))
    return f"callcenter_config agent set status {agent_id(extension, domain)} {status}"


def cmd_agent_state(extension: str, domain: str, state: str) -> str:
    return (
        f"callcenter_config agent set state {agent_id(extension, domain)} {_quoted(canonical(state, STATES, 'state'))}"
    )


# mod_callcenter agent types (cc_agent_add compares them case-insensitively and stores them as typed).
AGENT_TYPES = ("callback", "uuid-standby")
# Agent keys `callcenter_config agent set` takes as numbers; PbxServer has an `agent_<key>` field for each.
AGENT_SETTINGS = ("max_no_answer", "wrap_up_time", "reject_delay_time", "busy_delay_time", "no_answer_delay_time")
# mod_callcenter's answer to a command about an agent it does not have (tier add, agent set/get).
AGENT_NOT_FOUND = "Agent not found!"


def agent_contact(template: str, extension: str, domain: str) -> str:
    """Fill `{extension}` and `{domain}` in by plain replacement: a dial string may hold its own `{var=value}`."""
    template = checked(validators.validate_contact_template, template)
    extension = checked(validators.validate_extension, extension)
    domain = checked(validators.validate_domain, domain)
    return checked(validators.validate_contact, template.replace("{extension}", extension).replace("{domain}", domain))


def cmd_agent_add(extension: str, domain: str, agent_type: str = "callback") -> str:
    if agent_type not in AGENT_TYPES:
        raise PbxError(
            f"{agent_type!r} is not a mod_callcenter agent type: use {' or '.join(AGENT_TYPES)}", retryable=False
        )
    return f"callcenter_config agent add {agent_id(extension, domain)} {agent_type}"


def cmd_agent_contact(extension: str, domain: str, template: str) -> str:
    contact = agent_contact(template, extension, domain)
    return f"callcenter_config agent set contact {agent_id(extension, domain)} {contact}"


def cmd_agent_setting(extension: str, domain: str, key: str, value: int) -> str:
    if key not in AGENT_SETTINGS:
        raise PbxError(f"{key!r} is not a mod_callcenter agent setting Mayday sets", retryable=False)
    number = checked(validators.validate_agent_number, value)
    return f"callcenter_config agent set {key} {agent_id(extension, domain)} {number}"


def cmds_agent_create(extension: str, domain: str, contact: str, settings: dict[str, int]) -> list[str]:
    """Everything that makes a new agent: built (and so validated) in full before the first is sent."""
    return [
        cmd_agent_add(extension, domain),
        cmd_agent_contact(extension, domain, contact),
        *(cmd_agent_setting(extension, domain, key, settings[key]) for key in AGENT_SETTINGS),
    ]


def cmd_tier_add(queue: str, extension: str, domain: str, level: int) -> str:
    return f"callcenter_config tier add {queue_id(queue, domain)} {agent_id(extension, domain)} {int(level)} 1"


def cmd_tier_del(queue: str, extension: str, domain: str) -> str:
    return f"callcenter_config tier del {queue_id(queue, domain)} {agent_id(extension, domain)}"


def cmd_hash(action: str, key: str, value: str | None = None) -> str:
    """mod_hash over `api hash`: `insert/mayday/prefix_45/0323300245`, `select/…`, `delete/…`."""
    validate_routing(key, value)
    tail = f"/{value}" if value is not None else ""
    return f"hash {action}/{routing.FAMILY}/{routing.hash_key(key)}{tail}"


def parse_hash_dump(body: str) -> dict[str, str]:
    """`hash_dump all mayday` lines `D/mayday_<key>/<value>` (a value may hold `/`) → Mayday's key names."""
    head, entries = f"D/{routing.FAMILY}_", {}
    for line in body.splitlines():
        if line.startswith(head):
            name, _, value = line[len(head) :].partition("/")
            key = routing.from_hash_key(name)
            if key is not None:
                entries[key] = value
    return entries


def cmd_originate(*, call_id: str, extension: str, number: str, did: str, domain: str) -> str:
    """Ring `user/<extension>@<domain>`; once answered, run `number` in the mayday-route context with the
    channel variables the dialplan reads (mayday_agent, mayday_did) and the agent's phone showing the number."""
    validate_call(extension, number, did)
    checked(validators.validate_name, call_id)
    variables = [
        f"origination_caller_id_number={number}",
        f"origination_caller_id_name={number}",
        f"originate_timeout={RING_SECONDS}",
        f"mayday_agent={extension}",
        f"mayday_call_id={call_id}",
        *([f"mayday_did={did}"] if did else []),
    ]
    return f"originate {{{','.join(variables)}}}user/{agent_id(extension, domain)} {number} XML mayday-route"


def check_reply(body: str, *, tolerate: tuple[str, ...] = ()) -> str:
    """`+OK…` is success; `-ERR…` is FreeSWITCH saying no, with its own words."""
    text = body.strip()
    if text.startswith("-ERR") and not any(t in text for t in tolerate):
        raise PbxError(f"FreeSWITCH refused: {text[5:] or text}", retryable=False)
    return text


def parse_table(body: str) -> list[dict[str, str]]:
    """callcenter_config lists: a header row, pipe-separated rows, then a trailing `+OK`."""
    lines = [line for line in body.splitlines() if line.strip()]
    if not lines or lines[0].startswith("-ERR"):
        check_reply(body)
        return []
    header = lines[0].split("|")
    return [dict(zip(header, line.split("|"), strict=False)) for line in lines[1:] if line.strip() != "+OK"]


def _local(ident: str, domain: str) -> str | None:
    name, _, dom = ident.partition("@")
    return name if dom == domain else None


def snapshot_from_tables(agent_list: str, tier_list: str, queue_list: str, domain: str) -> Snapshot:
    snap = Snapshot()
    snap.queues = [q for row in parse_table(queue_list) if (q := _local(row.get("name", ""), domain))]
    agents = {}
    for row in parse_table(agent_list):
        ext = _local(row.get("name", ""), domain)
        if ext:
            agents[ext] = row
            snap.agents[ext] = (row.get("status", ""), row.get("state", ""))
    for row in parse_table(tier_list):
        ext, queue = _local(row.get("agent", ""), domain), _local(row.get("queue", ""), domain)
        if not ext or not queue:
            continue
        if queue not in snap.queues:
            snap.queues.append(queue)
        agent = agents.get(ext, {})
        state = agent.get("state", "")
        snap.members.append(
            MemberState(
                queue=queue,
                extension=ext,
                paused=agent.get("status") == "On Break",
                device_state=_STATE_DEVICE.get(state, "unknown"),
                in_call=state == "In a queue call",
                calls_taken=_int(agent.get("calls_answered")),
                last_call=_int(agent.get("last_bridge_end")),
                penalty=max(_int(row.get("level"), 1) - 1, 0),
            )
        )
    return snap


SNAPSHOT_COMMANDS = ("callcenter_config agent list", "callcenter_config tier list", "callcenter_config queue list")


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# ---- events ----------------------------------------------------------------------------------------


def parse_event_body(body: str) -> dict[str, str]:
    """Headers of a `text/event-plain` body: split lines first, URL-decode each value after."""
    headers = {}
    for line in body.split("\n"):
        key, sep, value = line.partition(": ")
        if sep:
            headers[key] = unquote(value)
        elif not line:
            break  # a blank line ends the headers; an event body (if any) follows
    return headers


def _ext(h: dict) -> str:
    return h.get("CC-Agent", "").partition("@")[0]


def _queue(h: dict) -> str:
    return h.get("CC-Queue", "").partition("@")[0]


def _secs(h: dict, later: str, earlier: str) -> int:
    a, b = _int(h.get(later)), _int(h.get(earlier))
    return max(a - b, 0) if a and b else 0


def _ring_ms(h: dict) -> int:
    """From the offer (CC-Agent-Called-Time, seconds) to this event (Event-Date-Timestamp, microseconds)."""
    called, now_us = _int(h.get("CC-Agent-Called-Time")), _int(h.get("Event-Date-Timestamp"))
    return max(now_us // 1000 - called * 1000, 0) if called and now_us else 0


def _at(h: dict) -> float:
    return _int(h.get("Event-Date-Timestamp")) / 1_000_000


# Hangup causes (Q.850 names) as the standard CDR dispositions read them; an answered channel is ANSWERED.
_DISPOSITIONS = {
    "USER_BUSY": "BUSY",
    "NO_ANSWER": "NO ANSWER",
    "NO_USER_RESPONSE": "NO ANSWER",
    "ORIGINATOR_CANCEL": "NO ANSWER",
    "NORMAL_CIRCUIT_CONGESTION": "CONGESTION",
    "SWITCH_CONGESTION": "CONGESTION",
}


def _cdr(h: dict) -> ev.Event:
    answer = _int(h.get("variable_answer_epoch"))
    cause = h.get("Hangup-Cause", "")
    channel = h.get("Channel-Name", "")
    name, number = h.get("Caller-Caller-ID-Name", ""), h.get("Caller-Caller-ID-Number", "")
    return ev.CdrRecorded(
        call_id=h.get("Unique-ID", ""),
        source=number,
        destination=h.get("Caller-Destination-Number", ""),
        destination_context=h.get("Caller-Context", ""),
        caller_id=f'"{name}" <{number}>' if name else number,
        channel=channel,
        destination_channel=h.get("Other-Leg-Channel-Name", ""),
        last_application=h.get("variable_last_app", ""),
        start=_int(h.get("variable_start_epoch")),
        answer=answer,
        end=_int(h.get("variable_end_epoch")),
        duration=_int(h.get("variable_duration")),
        billable_seconds=_int(h.get("variable_billsec")),
        disposition="ANSWERED" if answer else _DISPOSITIONS.get(cause, "FAILED"),
        account_code=h.get("variable_accountcode", ""),
        hangup_cause=cause,
        # mod_callcenter's legs to agents, and the far half of a loopback channel, stay inside the PBX.
        internal=h.get("variable_cc_side") == "agent" or (channel.startswith("loopback/") and channel.endswith("-b")),
    )


# CC-Cancel-Reason of a caller who left unanswered, when it was not by hanging up (NONE, BREAK_OUT): timed out?
_EXITS = {"TIMEOUT": True, "NO_AGENT_TIMEOUT": True, "EXIT_WITH_KEY": False}


def _member_queue_end(h: dict) -> ev.Event:
    joined, left = _int(h.get("CC-Member-Joined-Time")), _int(h.get("CC-Member-Leaving-Time"))
    if h.get("CC-Cause") == "Terminated":
        return ev.MemberQueueEnd(_queue(h), h.get("CC-Member-Session-UUID", ""), _ext(h), joined, left, at=_at(h))
    wait, at = _secs(h, "CC-Member-Leaving-Time", "CC-Member-Joined-Time"), float(left) if left else _at(h)
    reason = h.get("CC-Cancel-Reason", "")
    if reason in _EXITS:
        return ev.QueueExit(_queue(h), h.get("CC-Member-Session-UUID", ""), reason, _EXITS[reason], wait, at=at)
    return ev.CallerAbandoned(_queue(h), h.get("CC-Member-Session-UUID", ""), 0, 0, wait, at=at, reason=reason)


_CC: dict[str, Callable[[dict], ev.Event | None]] = {
    "agent-status-change": lambda h: ev.AgentStatusChanged(
        _ext(h), h.get("CC-Agent-Status", ""), h.get("CC-Agent-Status") == "On Break"
    ),
    "agent-state-change": lambda h: ev.AgentStateChanged(
        _ext(h),
        h.get("CC-Agent-State", ""),
        _STATE_DEVICE.get(h.get("CC-Agent-State", ""), "unknown"),
        h.get("CC-Agent-State") == "In a queue call",
    ),
    "member-queue-start": lambda h: ev.MemberQueueStart(
        _queue(h),
        h.get("CC-Member-Session-UUID", ""),
        h.get("CC-Member-CID-Number", ""),
        h.get("CC-Member-CID-Name", ""),
        at=_at(h),
    ),
    "member-queue-end": _member_queue_end,
    "agent-offering": lambda h: ev.AgentCalled(_queue(h), _ext(h), h.get("CC-Member-Session-UUID", ""), at=_at(h)),
    "bridge-agent-start": lambda h: ev.AgentConnected(
        _queue(h),
        _ext(h),
        h.get("CC-Member-Session-UUID", ""),
        _secs(h, "CC-Agent-Answered-Time", "CC-Member-Joined-Time"),
        _secs(h, "CC-Agent-Answered-Time", "CC-Agent-Called-Time"),
        at=_at(h),
    ),
    "bridge-agent-end": lambda h: ev.AgentCompleted(
        _queue(h),
        _ext(h),
        h.get("CC-Member-Session-UUID", ""),
        _secs(h, "CC-Agent-Answered-Time", "CC-Member-Joined-Time"),
        _secs(h, "CC-Bridge-Terminated-Time", "CC-Agent-Answered-Time"),
        "",  # mod_callcenter does not say who hung up (CC-Hangup-Cause is the channel's cause)
        at=_at(h),
    ),
    "bridge-agent-fail": lambda h: ev.AgentRingNoAnswer(
        _queue(h), _ext(h), h.get("CC-Member-Session-UUID", ""), _ring_ms(h), at=_at(h)
    ),
}

# A plain event starts with its Event-Name (custom events with their Event-Subclass): one look, no scan of the body.
HANGUP_COMPLETE = "Event-Name: CHANNEL_HANGUP_COMPLETE\n"
# What the listener subscribes to: mod_callcenter's events, and each channel's end for its CDR.
EVENT_SUBSCRIPTION = "event plain CUSTOM callcenter::info CHANNEL_HANGUP_COMPLETE"


def esl_event(body: str) -> ev.Event | None:
    """Normalize one `text/event-plain` body (mod_callcenter's events, CHANNEL_HANGUP_COMPLETE); anything else is None.

    The CC-Action is looked up before the body is parsed, so chatter
    (members-count, agent-*-get…) costs one substring search.
    """
    first_line = body.startswith("CC-Action: ")
    start = -1 if first_line else body.find("\nCC-Action: ")  # the index of the newline before it
    if start < 0 and not first_line:
        if not body.startswith(HANGUP_COMPLETE):
            return None
        headers = parse_event_body(body)  # by the parsed header too: a repeated Event-Name has the last word
        return _cdr(headers) if headers.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE" else None
    end = body.find("\n", start + 12)
    if body[start + 12 : end if end > 0 else None] not in _CC:
        return None
    headers = parse_event_body(body)
    # Map by the parsed header: the line found above may sit after the headers, or be repeated.
    mapper = _CC.get(headers.get("CC-Action", ""))
    if mapper is None or headers.get("Event-Subclass") != "callcenter::info":
        return None
    return mapper(headers)


# ---- asyncio client (listener) ---------------------------------------------------------------------


HEADER_LIMIT = 2**16  # bytes: a frame's header block longer than this is garbage, not a frame still arriving


class EslConnection(asyncio.Protocol):
    """A minimal inbound ESL client on asyncio: auth, api commands, plain events.

    Replies arrive in command order, interleaved with events; each frame is
    routed by its Content-Type as the bytes come in (`take_frames`).
    """

    def __init__(self, on_event: Callable[[str], None] | None = None) -> None:
        self.on_event = on_event
        self.pending: list[asyncio.Future] = []
        self.closed: asyncio.Future | None = None
        self.greeting: asyncio.Future | None = None  # the first frame's headers
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()

    async def open(self, host: str, port: int, password: str, timeout: float = COMMAND_TIMEOUT) -> None:
        checked(validators.validate_secret, password)
        loop = asyncio.get_running_loop()
        self.closed, self.greeting = loop.create_future(), loop.create_future()
        try:
            await asyncio.wait_for(loop.create_connection(lambda: self, host, port), timeout)
            headers = await asyncio.wait_for(asyncio.shield(self.greeting), timeout)
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: garbled greeting
            self.close()
            raise PbxError(f"cannot reach ESL at {host}:{port}: {exc or 'timed out'}", retryable=True) from exc
        if headers.get("Content-Type") != "auth/request":
            self.close()
            raise PbxError(f"ESL at {host}:{port} did not ask for a password", retryable=True)
        reply = await self.command(f"auth {password}", timeout)
        if reply != "+OK accepted":
            self.close()
            raise PbxError(f"ESL authentication failed: {reply}", retryable=False)

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            for headers, body in take_frames(self.buffer):
                if self.closed.done():
                    return
                self._route(headers, body)
        except ValueError as exc:
            self._fail(exc)

    def _route(self, headers: dict[str, str], body: str) -> None:
        """Hand one frame to whoever waits for it."""
        if not self.greeting.done():
            self.greeting.set_result(headers)
            return
        kind = headers.get("Content-Type")
        if kind == "text/event-plain":
            if self.on_event:
                self.on_event(body)
        elif kind in ("command/reply", "api/response"):
            if self.pending:
                future = self.pending.pop(0)
                if not future.done():
                    future.set_result(headers.get("Reply-Text", "") if kind == "command/reply" else body)
        elif kind == "text/disconnect-notice":
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("ESL closed the connection"))

    def _fail(self, exc: Exception) -> None:
        if self.greeting is not None and not self.greeting.done():
            self.greeting.set_exception(exc)
        self.close()

    async def command(self, line: str, timeout: float = COMMAND_TIMEOUT) -> str:
        if "\n" in line or "\r" in line:
            raise PbxError("refusing to send a line break to ESL", retryable=False)
        if self.transport is None or self.closed.done():
            raise PbxError("ESL connection lost", retryable=True)
        future = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        self.transport.write(f"{line}\n\n".encode())
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise PbxError(f"ESL `{line.split()[0]}` got no answer in {timeout:g}s", retryable=True) from exc

    async def api(self, command: str, timeout: float = COMMAND_TIMEOUT) -> str:
        return await self.command(f"api {command}", timeout)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        for future in self.pending:
            if not future.done():
                future.set_exception(PbxError("ESL connection lost", retryable=True))
        self.pending.clear()
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)


def take_frames(buffer: bytearray, limit: int = HEADER_LIMIT) -> Iterator[tuple[dict[str, str], str]]:
    """Each whole ESL frame at the start of `buffer`, taken out of it as it is given: header lines up to a blank
    line, then exactly Content-Length bytes of body. What is left is the start of a frame still arriving.

    Raises ValueError at a malformed frame: a header block over `limit` bytes, a Content-Length that is no
    count, bytes that are not UTF-8. However TCP splits the bytes, the frames and the error are the same.
    """
    while True:
        end = buffer.find(b"\n\n")
        # No blank line yet: past the limit even if the next byte completes one, it is garbage.
        if (end < 0 and len(buffer) > limit + 1) or end > limit:
            raise ValueError(f"ESL frame headers over {limit} bytes")
        if end < 0:
            return
        headers = {}
        for line in buffer[:end].decode().split("\n"):
            key, sep, value = line.partition(": ")
            if sep:
                headers[key] = value
        length = int(headers.get("Content-Length", 0))
        if length < 0:
            raise ValueError(f"ESL Content-Length {length}")
        if end + 2 + length > len(buffer):
            return
        body = buffer[end + 2 : end + 2 + length].decode()
        del buffer[: end + 2 + length]
        yield headers, body


async def esl_snapshot(conn: EslConnection, domain: str) -> Snapshot:
    tables = [await conn.api(command) for command in SNAPSHOT_COMMANDS]
    return snapshot_from_tables(*tables, domain)


# ---- commands (greenswitch) ------------------------------------------------------------------------


@register("freeswitch")
class FreeswitchBackend(PbxBackend):
    """mod_callcenter commands over one greenswitch connection, each under a timeout."""

    def open(self) -> None:
        import gevent
        from greenswitch import InboundESL

        checked(validators.validate_secret, self.pbx.secret)
        checked(validators.validate_domain, self.pbx.domain)
        self.esl = InboundESL(host=self.pbx.host, port=self.pbx.port, password=self.pbx.secret, timeout=COMMAND_TIMEOUT)
        try:
            with gevent.Timeout(COMMAND_TIMEOUT, PbxError("ESL login timed out", retryable=True)):
                self.esl.connect()
        except ValueError as exc:  # greenswitch's word for a refused password
            self.close()
            raise PbxError("ESL authentication failed: -ERR invalid", retryable=False) from exc
        except (OSError, Exception) as exc:
            self.close()
            if isinstance(exc, PbxError):
                raise
            raise PbxError(f"cannot reach ESL at {self.pbx.host}:{self.pbx.port}: {exc}", retryable=True) from exc

    def close(self) -> None:
        # Not greenswitch's stop(): it waits up to a second for its event greenlet.
        import gevent

        esl = getattr(self, "esl", None)
        if esl is None:
            return
        esl._run = False
        esl.connected = False
        gevent.killall([g for g in (esl._receive_events_greenlet, esl._process_events_greenlet) if g])
        # greenswitch reads through a file object made from the socket; the connection stays open
        # until both are closed.
        for part in (getattr(esl, "sock_file", None), getattr(esl, "sock", None)):
            if part is not None:
                part.close()
        self.esl = None

    def reusable(self) -> bool:
        return self.esl is not None and self.esl.connected and quiet(self.esl.sock)

    def api(self, command: str, *, tolerate: tuple[str, ...] = ()) -> str:
        import gevent

        if self.esl is None or not self.esl.connected:
            raise PbxError("ESL connection lost", retryable=True)
        try:
            with gevent.Timeout(COMMAND_TIMEOUT, PbxError(f"ESL `{command}` got no answer", retryable=True)):
                reply = self.esl.send(f"api {command}")
        except OSError as exc:
            raise PbxError(f"ESL connection lost: {exc}", retryable=True) from exc
        return check_reply(reply.data or "", tolerate=tolerate)

    def ping(self) -> None:
        self.api("status")

    def snapshot(self) -> Snapshot:
        return snapshot_from_tables(*(self.api(command) for command in SNAPSHOT_COMMANDS), self.pbx.domain)

    def member_add(self, *, queue: str, extension: str, name: str, penalty: int, paused: bool, reason: str) -> None:
        self.api(cmd_tier_add(queue, extension, self.pbx.domain, penalty + 1), tolerate=("already exist",))

    def member_remove(self, *, queue: str, extension: str) -> None:
        self.api(cmd_tier_del(queue, extension, self.pbx.domain), tolerate=("not found",))

    def member_pause(self, *, extension: str, paused: bool, reason: str = "", queue: str | None = None) -> None:
        # mod_callcenter pauses an agent, not a membership: On Break covers every queue.
        self.agent_set_status(extension=extension, status="On Break" if paused else "Available")

    def agent_set_status(self, *, extension: str, status: str) -> None:
        self.api(cmd_agent_status(extension, self.pbx.domain, status))

    def agent_ensure(self, *, extension: str) -> None:
        """Create the mod_callcenter agent (it starts Logged Out / Waiting) with this PBX's contact and timeouts.

        An agent that appeared meanwhile (`-ERR Agent already exist!`) is given them all the same.
        """
        settings = {key: getattr(self.pbx, f"agent_{key}") for key in AGENT_SETTINGS}
        add, *configure = cmds_agent_create(extension, self.pbx.domain, self.pbx.agent_contact, settings)
        self.api(add, tolerate=("Agent already exist",))
        for command in configure:
            self.api(command)

    def set_availability(
        self, *, extension: str, name: str, availability: str, reason: str, queues: list[Seat]
    ) -> None:
        """Tiers for every queue, then the agent status (mod_callcenter keeps no pause reason).

        An agent FreeSWITCH does not have is refused (`-ERR Agent not found!`, by `tier add` or `agent set
        status`, whichever comes first): then it is created and the whole step tried once more. Reacting to the
        refusal costs nothing while the agent exists; asking `agent list` first would cost a round trip on every
        change of every agent.
        """
        try:
            self._set_availability(extension, name, availability, queues)
        except PbxError as exc:
            if not exc.message.endswith(AGENT_NOT_FOUND):
                raise
            self.agent_ensure(extension=extension)
            self._set_availability(extension, name, availability, queues)

    def _set_availability(self, extension: str, name: str, availability: str, queues: list[Seat]) -> None:
        for seat in queues:
            self.member_add(
                queue=seat.queue, extension=extension, name=name, penalty=seat.penalty, paused=False, reason=""
            )
        self.agent_set_status(extension=extension, status=STATUS_OF[availability])

    @staticmethod
    def observed_availability(snapshot: Snapshot, extension: str, queues: list[str]) -> Observed | None:
        status = snapshot.agents.get(extension)
        tiers = {m.queue for m in snapshot.members if m.extension == extension}
        if status is None or not set(queues) <= tiers or status[0] not in AVAILABILITY_OF:
            return None
        return Observed(AVAILABILITY_OF[status[0]], None)

    def agent_set_state(self, *, extension: str, state: str) -> None:
        self.api(cmd_agent_state(extension, self.pbx.domain, state))

    def routing_read(self) -> dict[str, str]:
        # An empty realm dumps nothing, which the event socket answers as `-ERR no reply`.
        return parse_hash_dump(self.api(f"hash_dump all {routing.FAMILY}", tolerate=("no reply",)))

    def routing_put(self, key: str, value: str) -> None:
        self.api(cmd_hash("insert", key, value))

    def routing_delete(self, key: str) -> None:
        self.api(cmd_hash("delete", key), tolerate=("Not found",))

    def originate(self, *, call_id: str, extension: str, number: str, did: str) -> Originated:
        command = cmd_originate(call_id=call_id, extension=extension, number=number, did=did, domain=self.pbx.domain)
        return asyncio.run(esl_originate(self.pbx, command))


async def esl_originate(pbx, command: str) -> Originated:
    """`bgapi originate` on a connection of its own (greenswitch would fold the job's result into a header):
    `+OK Job-UUID: …` at once, then the BACKGROUND_JOB event of that job, whose body is `+OK <uuid>` once the
    agent answered or `-ERR <CAUSE>`."""
    results: dict[str, str] = {}
    arrived = asyncio.Event()

    def on_event(body: str) -> None:
        headers = parse_event_body(body)
        if headers.get("Event-Name") == "BACKGROUND_JOB":
            results[headers.get("Job-UUID", "")] = body.partition("\n\n")[2].strip()
            arrived.set()

    conn = EslConnection(on_event=on_event)
    try:
        await conn.open(pbx.host, pbx.port, pbx.secret)
        check_reply(await conn.command("event plain BACKGROUND_JOB"))
        reply = await conn.command(f"bgapi {command}")
        if not reply.startswith("+OK Job-UUID: "):
            return Originated(False, error=f"FreeSWITCH refused: {reply}")
        job = reply.removeprefix("+OK Job-UUID: ").strip()
        async with asyncio.timeout(RING_SECONDS + COMMAND_TIMEOUT):
            while job not in results:
                arrived.clear()
                waiter = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({waiter, conn.closed}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if conn.closed.done() and job not in results:
                    return Originated(False, error="the connection to FreeSWITCH was lost before the call's outcome")
    except TimeoutError:
        return Originated(False, error="FreeSWITCH did not say how the call went")
    finally:
        conn.close()
    result = results[job]
    if result.startswith("+OK"):
        return Originated(True, call_id=result[3:].strip())
    return Originated(False, error=result.removeprefix("-ERR").strip() or "the call failed")
