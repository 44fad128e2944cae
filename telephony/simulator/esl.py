"""A FreeSWITCH event socket with mod_callcenter, faithful to the recorded transcripts.

LF line endings; `api/response` bodies framed by Content-Length (some with no
trailing newline); events as `text/event-plain` with Content-Length before
Content-Type and URL-encoded header values; mod_callcenter's reply texts.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field

from telephony.simulator.server import SessionServer

# switch_url_encode leaves these alone; everything else outside printable ASCII is %XX.
_UNSAFE = set('\r\n "#%&+:;<=>?@[\\]^`{|}')
AGENT_COLUMNS = (
    "name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|"
    "busy_delay_time|no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|"
    "last_status_change|no_answer_count|calls_answered|talk_time|ready_time|external_calls_count"
)
QUEUE_COLUMNS = (
    "name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|"
    "tier_rule_wait_multiply_level|tier_rule_no_agent_no_wait|discard_abandoned_after|"
    "abandoned_resume_allowed|max_wait_time|max_wait_time_with_no_agent|"
    "max_wait_time_with_no_agent_time_reached|record_template|calls_answered|calls_abandoned|"
    "ring_progressively_delay"
)
STATUSES = {"logged out", "available", "available (on demand)", "on break"}
STATES = {"idle", "waiting", "receiving", "in a queue call", "reserved"}
DISCONNECT = (
    "Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
    "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
)


def url_encode(value: str) -> str:
    return "".join(
        ch if ch not in _UNSAFE and 32 < ord(ch) < 127 else "".join(f"%{b:02X}" for b in ch.encode()) for ch in value
    )


def split_args(text: str) -> list[str]:
    """FreeSWITCH's argument splitting: spaces separate, only single quotes group."""
    args, current, quoted, started = [], [], False, False
    for ch in text:
        if ch == "'":
            quoted, started = not quoted, True
        elif ch == " " and not quoted:
            if started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        args.append("".join(current))
    return args


@dataclass
class FsAgent:
    """One mod_callcenter agent. The defaults are those of the recorded agents (configured in callcenter.conf);
    an agent made by `agent add` starts with mod_callcenter's column defaults instead (see `EslServer._agent`)."""

    name: str
    contact: str
    status: str = "Logged Out"
    state: str = "Waiting"
    type: str = "callback"
    max_no_answer: int = 3
    wrap_up_time: int = 5
    reject_delay_time: int = 10
    busy_delay_time: int = 60
    no_answer_delay_time: int = 10
    last_bridge_start: int = 0
    last_bridge_end: int = 0
    last_status_change: int = field(default_factory=lambda: int(time.time()))
    calls_answered: int = 0
    talk_time: int = 0

    def row(self) -> str:
        return (
            f"{self.name}|single_box||{self.type}|{self.contact}|{self.status}|{self.state}|{self.max_no_answer}|"
            f"{self.wrap_up_time}|{self.reject_delay_time}|{self.busy_delay_time}|{self.no_answer_delay_time}|"
            f"{self.last_bridge_start}|{self.last_bridge_end}|0|{self.last_status_change}|0|"
            f"{self.calls_answered}|{self.talk_time}|0|0"
        )


@dataclass
class CcCall:
    """A mod_callcenter queue call, as the channel variables of its legs name it."""

    queue: str  # support@default
    member_uuid: str  # CC-Member-UUID
    session_uuid: str  # CC-Member-Session-UUID: the member channel's Unique-ID
    cid_name: str
    cid_number: str
    agent: str = ""  # 1039@default, once bridged


@dataclass
class Leg:
    """One channel of a queue call: the caller (cc_side member) or the agent's phone (cc_side agent)."""

    side: str
    uuid: str
    channel: str
    source: str  # the endpoint module: mod_loopback, mod_sofia
    destination: str
    start: float
    answer: float = 0.0  # 0: never answered
    end: float = 0.0
    cause: str = "NORMAL_CLEARING"


# `agent set <key>` keys mod_callcenter stores as numbers (through atoi: "abc" is 0).
NUMBER_KEYS = ("max_no_answer", "wrap_up_time", "reject_delay_time", "busy_delay_time", "no_answer_delay_time")
AGENT_TYPES = ("callback", "uuid-standby")


def atoi(value: str) -> int:
    """C's atoi, as mod_callcenter reads numbers: leading digits (after blanks and a sign), else 0."""
    match = re.match(r"\s*([+-]?\d+)", value)
    return int(match.group(1)) if match else 0


class EslServer(SessionServer):
    """The ESL side of the simulator: mod_callcenter agents, queues and tiers.

    `agents` lists the extensions that exist at start (default 1000-1099), and only those: leave one out, or
    pass `[]`, and it is missing until someone sends `callcenter_config agent add`.
    """

    def __init__(
        self,
        *,
        password: str = "ClueCon",
        domain: str = "default",
        queues: dict[str, str] | None = None,
        agents: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.password, self.domain = password, domain
        self.initial_queues = queues or {"support": "longest-idle-agent", "sales": "round-robin"}
        self.initial_agents = agents if agents is not None else [str(n) for n in range(1000, 1100)]
        self.commands: list[str] = []  # every command received, for tests and the curious
        self.sequence = 400
        self.frozen = False  # True: accept and read, never answer (a half-open or hung event socket)
        self.reset()

    def reset(self) -> None:
        """A restart: configured agents (Logged Out) and queues; tiers added at run time are gone."""
        self.queues = {f"{q}@{self.domain}": strategy for q, strategy in self.initial_queues.items()}
        self.agents = {
            f"{a}@{self.domain}": FsAgent(f"{a}@{self.domain}", f"user/{a}@{self.domain}") for a in self.initial_agents
        }
        self.tiers: dict[tuple[str, str], tuple[int, int]] = {}

    # ---- events --------------------------------------------------------------------------------

    def _origin(self, now: float) -> list[tuple[str, str]]:
        """The headers every event carries after its name: who sent it and when."""
        return [
            ("Core-UUID", "5e1f5c7e-mayday-simulator"),
            ("FreeSWITCH-Hostname", "sim"),
            ("FreeSWITCH-Switchname", "mayday-sim"),
            ("FreeSWITCH-IPv4", "127.0.0.1"),
            ("FreeSWITCH-IPv6", "::1"),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))),
        ]

    @staticmethod
    def _framed(headers: list[tuple[str, str]]) -> bytes:
        raw = ("".join(f"{k}: {url_encode(v)}\n" for k, v in headers if v != "") + "\n").encode()
        return f"Content-Length: {len(raw)}\nContent-Type: text/event-plain\n\n".encode() + raw

    def event_bytes(
        self, headers: list[tuple[str, str]], subclass: str = "callcenter::info", function: str = "cc_agent_update"
    ) -> bytes:
        self.sequence += 1
        return self._framed(
            [
                ("Event-Subclass", subclass),
                ("Event-Name", "CUSTOM"),
                *self._origin(time.time()),
                ("Event-Calling-File", "mod_callcenter.c"),
                ("Event-Calling-Function", function),
                ("Event-Calling-Line-Number", "1043"),
                ("Event-Sequence", str(self.sequence)),
                *headers,
            ]
        )

    def emit(self, headers: list[tuple[str, str]], function: str = "cc_agent_update") -> None:
        data = self.event_bytes(headers, function=function)
        for session in self.sessions:
            if session.callcenter_events:
                session.writer.write(data)

    def emit_raw(self, data: bytes) -> None:
        for session in self.sessions:
            if session.callcenter_events:
                session.writer.write(data)

    def hangup_bytes(self, leg: Leg, call: CcCall, other: Leg | None = None) -> bytes:
        """CHANNEL_HANGUP_COMPLETE of one leg of a queue call: the headers of events-call-channels.esl that a CDR
        needs, with their recorded names and order (Hangup-Cause twice, as recorded). `other` is the leg it was
        bridged to, if any."""
        self.sequence += 1
        member = leg.side == "member"

        def usec(t: float) -> str:
            return str(int(t * 1_000_000))

        def stamp(t: float) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""

        headers = [
            ("Event-Name", "CHANNEL_HANGUP_COMPLETE"),
            *self._origin(time.time()),
            ("Event-Calling-File", "switch_core_state_machine.c"),
            ("Event-Calling-Function", "switch_core_session_reporting_state"),
            ("Event-Calling-Line-Number", "943"),
            ("Event-Sequence", str(self.sequence)),
            ("Hangup-Cause", leg.cause),
            ("Channel-State", "CS_REPORTING"),
            ("Channel-Call-State", "HANGUP"),
            ("Channel-State-Number", "11"),
            ("Channel-Name", leg.channel),
            ("Unique-ID", leg.uuid),
            ("Call-Direction", "outbound"),
            ("Presence-Call-Direction", "outbound"),
            ("Channel-HIT-Dialplan", "true" if member else "false"),
            ("Channel-Call-UUID", call.session_uuid),
            ("Answer-State", "hangup"),
            ("Hangup-Cause", leg.cause),
            ("Caller-Direction", "outbound"),
            ("Caller-Logical-Direction", "inbound" if member else "outbound"),
            ("Caller-Dialplan", "xml"),
            ("Caller-Caller-ID-Name", call.cid_name),
            ("Caller-Caller-ID-Number", call.cid_number),
            ("Caller-Orig-Caller-ID-Name", call.cid_name),
            ("Caller-Orig-Caller-ID-Number", call.cid_number),
            ("Caller-ANI", call.cid_number),
            ("Caller-Destination-Number", leg.destination),
            ("Caller-Unique-ID", leg.uuid),
            ("Caller-Source", leg.source),
            ("Caller-Context", "default"),
            ("Caller-Channel-Name", leg.channel),
            ("Caller-Channel-Created-Time", usec(leg.start)),
            ("Caller-Channel-Answered-Time", usec(leg.answer)),
            ("Caller-Channel-Hangup-Time", usec(leg.end)),
        ]
        if other is not None:
            headers += [
                ("Other-Type", "originatee" if member else "originator"),
                ("Other-Leg-Direction", "outbound"),
                ("Other-Leg-Caller-ID-Name", call.cid_name),
                ("Other-Leg-Caller-ID-Number", call.cid_number),
                ("Other-Leg-Destination-Number", other.destination),
                ("Other-Leg-Unique-ID", other.uuid),
                ("Other-Leg-Source", other.source),
                ("Other-Leg-Context", "default"),
                ("Other-Leg-Channel-Name", other.channel),
            ]
        headers += [
            ("variable_direction", "outbound"),
            ("variable_uuid", leg.uuid),
            ("variable_channel_name", leg.channel),
        ]
        bridged = other.uuid if other is not None else ""
        if member:
            headers += [
                ("variable_call_uuid", leg.uuid),
                ("variable_current_application", "callcenter"),
                ("variable_cc_side", "member"),
                ("variable_cc_member_uuid", call.member_uuid),
                ("variable_cc_queue_joined_epoch", str(int(leg.start))),
                ("variable_cc_queue", call.queue),
                ("variable_cc_agent_uuid", bridged),
                ("variable_cc_agent_bridged", "true" if bridged else ""),
                ("variable_cc_agent", call.agent if bridged else ""),
                ("variable_cc_cause", "answered" if bridged else ""),
                ("variable_bridge_uuid", bridged),
            ]
        else:
            headers += [
                ("variable_cc_side", "agent"),
                ("variable_cc_queue", call.queue),
                ("variable_cc_agent", call.agent),
                ("variable_cc_agent_type", "callback"),
                ("variable_cc_member_uuid", call.member_uuid),
                ("variable_cc_member_session_uuid", call.session_uuid),
                ("variable_cc_agent_bridged", "true" if bridged else ""),
                ("variable_call_uuid", call.session_uuid),
                ("variable_bridge_uuid", bridged),
            ]
        headers += [
            ("variable_hangup_cause", leg.cause),
            ("variable_start_stamp", stamp(leg.start)),
            ("variable_answer_stamp", stamp(leg.answer)),
            ("variable_end_stamp", stamp(leg.end)),
            ("variable_start_epoch", str(int(leg.start))),
            ("variable_answer_epoch", str(int(leg.answer))),
            ("variable_end_epoch", str(int(leg.end))),
            ("variable_last_app", "callcenter" if member else ""),
            ("variable_caller_id", f'"{call.cid_name}" <{call.cid_number}>'),
            ("variable_duration", str(int(leg.end - leg.start))),
            ("variable_billsec", str(int(leg.end - leg.answer)) if leg.answer else "0"),
        ]
        return self._framed(headers)

    def hangup(self, leg: Leg, call: CcCall, other: Leg | None = None) -> None:
        """Send a leg's CHANNEL_HANGUP_COMPLETE to the sessions subscribed to it."""
        data = self.hangup_bytes(leg, call, other)
        for session in self.sessions:
            if session.hangup_events:
                session.writer.write(data)

    def set_status(self, agent: FsAgent, status: str) -> None:
        agent.status, agent.last_status_change = status, int(time.time())
        self.emit([("CC-Agent", agent.name), ("CC-Action", "agent-status-change"), ("CC-Agent-Status", status)])

    def set_state(self, agent: FsAgent, state: str) -> None:
        agent.state = state
        self.emit([("CC-Agent", agent.name), ("CC-Action", "agent-state-change"), ("CC-Agent-State", state)])

    # ---- mod_callcenter ------------------------------------------------------------------------

    def callcenter_config(self, args: list[str]) -> str:
        if len(args) < 2:
            return "-ERR Usage: callcenter_config <agent|queue|tier> ...\n"
        section, action, rest = args[0], args[1], args[2:]
        if section == "agent":
            return self._agent(action, rest)
        if section == "tier":
            return self._tier(action, rest)
        if section == "queue" and action == "list":
            if rest[:1] == ["agents"] and len(rest) > 1:
                names = {a for (q, a) in self.tiers if q == rest[1]}
                return self._agent_table([a for n, a in self.agents.items() if n in names])
            rows = [
                f"{name}|{strategy}|local_stream://moh|system|false|30|true|false|60|false|0|0|5||0|0|10"
                for name, strategy in self.queues.items()
            ]
            return "\n".join([QUEUE_COLUMNS, *rows, "+OK", ""])
        return "-ERR Unknown command!\n"

    def _agent_table(self, agents: list[FsAgent]) -> str:
        return "\n".join([AGENT_COLUMNS, *(a.row() for a in agents), "+OK", ""])

    # Replies to `agent add` and `agent set contact|max_no_answer|…` are not in the recordings: they are
    # mod_callcenter's own texts, from cc_config_api_function, cc_agent_add and cc_agent_update in
    # src/mod/applications/mod_callcenter/mod_callcenter.c (signalwire/freeswitch master, file as of 6d65f8e):
    # "+OK", "-ERR Invalid!" (too few arguments), "-ERR Agent already exist!", "-ERR Agent type invalid!"
    # (add), "-ERR Agent not found!" and "-ERR Invalid Agent Type!" (set). The agent-add and
    # agent-contact-change events come from there too.
    def _agent(self, action: str, rest: list[str]) -> str:
        if action == "list":
            return self._agent_table(list(self.agents.values()))
        if action == "add":
            if len(rest) < 2:
                return "-ERR Invalid!\n"
            name, kind = rest[0], rest[1]
            if kind.lower() not in AGENT_TYPES:  # checked before the name, as cc_agent_add does
                return "-ERR Agent type invalid!\n"
            if name in self.agents:
                return "-ERR Agent already exist!\n"
            # INSERT INTO agents (name, instance_id, type, status, state): every other column keeps its
            # default, 0 or empty (an agent with no contact yet, and no status change).
            self.agents[name] = FsAgent(
                name,
                "",
                type=kind,
                max_no_answer=0,
                wrap_up_time=0,
                reject_delay_time=0,
                busy_delay_time=0,
                no_answer_delay_time=0,
                last_status_change=0,
            )
            self.emit(
                [("CC-Agent", name), ("CC-Agent-Type", kind), ("CC-Action", "agent-add")], function="cc_agent_add"
            )
            return "+OK\n"
        if action == "del" and rest:
            # cc_agent_del deletes whatever matches and always answers +OK, even for an unknown agent.
            self.agents.pop(rest[0], None)
            self.tiers = {k: v for k, v in self.tiers.items() if k[1] != rest[0]}
            return "+OK\n"
        if action == "get" and len(rest) >= 2:
            agent = self.agents.get(rest[1])
            if agent is None:
                return "-ERR Agent not found!\n"
            value = {"status": agent.status, "state": agent.state}.get(rest[0])
            return value if value is not None else "-ERR Invalid Agent Update KEY!\n"
        if action == "set" and rest:
            if len(rest) < 3:
                return "-ERR Invalid!\n"
            key, name, value = rest[0].lower(), rest[1], rest[2]
            agent = self.agents.get(name)
            if agent is None:  # asked before the key is looked at: any key of an unknown agent gets this
                return "-ERR Agent not found!\n"
            if key == "status":
                if value.lower() not in STATUSES:
                    return "-ERR Invalid Agent Status!\n"
                self.set_status(agent, value)  # stored as typed, as FreeSWITCH does
                return "+OK\n"
            if key == "state":
                if value.lower() not in STATES:
                    return "-ERR Invalid Agent State!\n"
                self.set_state(agent, value)
                return "+OK\n"
            if key == "contact":
                agent.contact = value
                self.emit([("CC-Agent", name), ("CC-Action", "agent-contact-change"), ("CC-Agent-Contact", value)])
                return "+OK\n"
            if key in NUMBER_KEYS:
                setattr(agent, key, atoi(value))
                return "+OK\n"
            if key == "type":
                if value.lower() not in AGENT_TYPES:
                    return "-ERR Invalid Agent Type!\n"
                agent.type = value
                return "+OK\n"
            return "-ERR Invalid Agent Update KEY!\n"
        return "-ERR Invalid!\n"

    def _tier(self, action: str, rest: list[str]) -> str:
        if action == "list":
            rows = [f"{q}|{a}|Ready|{level}|{pos}" for (q, a), (level, pos) in self.tiers.items()]
            return "\n".join(["queue|agent|state|level|position", *rows, "+OK", ""])
        if action == "add" and len(rest) >= 2:
            queue, agent = rest[0], rest[1]
            if queue not in self.queues:
                return "-ERR Queue not found!\n"
            if agent not in self.agents:
                return "-ERR Agent not found!\n"
            if (queue, agent) in self.tiers:
                return "-ERR Tier already exist!\n"
            level = int(rest[2]) if len(rest) > 2 and rest[2].isdigit() else 1
            position = int(rest[3]) if len(rest) > 3 and rest[3].isdigit() else 1
            self.tiers[(queue, agent)] = (level, position)
            return "+OK\n"
        if action == "del" and len(rest) >= 2:
            self.tiers.pop((rest[0], rest[1]), None)
            return "+OK\n"
        return "-ERR Invalid!\n"

    def api(self, command: str) -> str:
        name, _, args = command.partition(" ")
        if name == "callcenter_config":
            return self.callcenter_config(split_args(args))
        if name == "status":
            return (
                "UP 0 years, 0 days, 0 hours, 1 minute, 0 seconds, 0 milliseconds, 0 microseconds\n"
                "FreeSWITCH (Version 1.11.3-dev mayday simulator 64bit) is ready\n"
                "0 session(s) since startup\n0 session(s) - peak 0, last 5min 0 \n"
                "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n1000 session(s) max\n"
                "min idle cpu 0.00/99.70\nCurrent Stack Size/Max 240K/8192K\n"
            )
        if name == "show" and args.strip() == "channels":
            return "\n0 total.\n"
        return f"-ERR {name} Command not found!\n"


class EslSession:
    def __init__(self, server: EslServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.authenticated = False
        self.callcenter_events = False
        self.background_events = False
        self.hangup_events = False

    def reply(self, text: str, *extra: str) -> None:
        lines = ["Content-Type: command/reply", f"Reply-Text: {text}", *extra]
        self.writer.write(("\n".join(lines) + "\n\n").encode())

    def api_response(self, body: str) -> None:
        raw = body.encode()
        self.writer.write(f"Content-Type: api/response\nContent-Length: {len(raw)}\n\n".encode() + raw)

    async def run(self) -> None:
        self.writer.write(b"Content-Type: auth/request\n\n")
        while True:
            block = await self.reader.readuntil(b"\n\n")
            command = block.decode(errors="replace").strip()
            if not command:
                continue
            self.server.commands.append(command)
            if self.server.frozen:
                continue  # a hung PBX: the socket stays open, nothing answers
            if not self.handle(command):
                await self.writer.drain()
                return
            await self.writer.drain()

    def handle(self, command: str) -> bool:
        word, _, rest = command.partition(" ")
        if word == "exit":
            self.reply("+OK bye")
            self.writer.write(DISCONNECT.encode())
            return False
        if word == "auth":
            if rest == self.server.password:
                self.authenticated = True
                self.reply("+OK accepted")
                return True
            self.reply("-ERR invalid")
            self.writer.write(DISCONNECT.encode())
            return False
        if not self.authenticated:
            self.reply("-ERR command not found")
        elif word == "api":
            self.api_response(self.server.api(rest))
        elif word == "bgapi":
            job = str(uuid.uuid4())
            self.reply(f"+OK Job-UUID: {job}", f"Job-UUID: {job}")
            if self.background_events:
                body = self.server.api(rest)
                headers = f"Event-Name: BACKGROUND_JOB\nJob-UUID: {job}\nJob-Command: {rest.partition(' ')[0]}\n"
                raw = (headers + f"Content-Length: {len(body.encode())}\n\n").encode() + body.encode()
                self.writer.write(f"Content-Length: {len(raw)}\nContent-Type: text/event-plain\n\n".encode() + raw)
        elif word == "event" and rest.startswith("plain"):
            names = rest.split()[1:]
            self.callcenter_events = "ALL" in names or ("CUSTOM" in names and "callcenter::info" in names)
            self.background_events = "ALL" in names or "BACKGROUND_JOB" in names
            self.hangup_events = "ALL" in names or "CHANNEL_HANGUP_COMPLETE" in names
            self.reply("+OK event listener enabled plain")
        else:
            self.reply("-ERR command not found")
        return True


EslServer.session_class = EslSession
