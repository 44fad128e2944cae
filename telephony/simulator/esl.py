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
HASH_USAGE = "-ERR Usage: hash insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]\n"
ORIGINATE_USAGE = (
    "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] "
    "[<timeout_sec>]\n"
)
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
        self.originates: list[dict] = []  # every originate, parsed (see `originate`), for tests
        self.answer_delay = 0.05  # seconds a user's phone takes to answer an originate
        self.unanswered: set[str] = set()  # extensions whose phone rings but is never answered
        self.sequence = 400
        self.frozen = False  # True: accept and read, never answer (a half-open or hung event socket)
        self.reset()

    def reset(self) -> None:
        """A restart: configured agents (Logged Out) and queues; tiers added at run time, mod_hash's data (memory
        only) and calls being originated are gone."""
        self.cancel_timers()
        self.hash: dict[tuple[str, str], str] = {}  # (realm, key) -> value
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
    def _framed(headers: list[tuple[str, str]], body: str = "") -> bytes:
        """An event as `event plain` sends it; a body follows the headers with its own Content-Length (bgapi.esl)."""
        raw = "".join(f"{k}: {url_encode(v)}\n" for k, v in headers if v != "").encode()
        raw += f"Content-Length: {len(body.encode())}\n\n{body}".encode() if body else b"\n"
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

    def background_job(self, job: str, command: str, arg: str, body: str) -> None:
        """The BACKGROUND_JOB of a finished bgapi, to every session subscribed to it (bgapi.esl, originate.esl)."""
        self.sequence += 1
        data = self._framed(
            [
                ("Event-Name", "BACKGROUND_JOB"),
                *self._origin(time.time()),
                ("Event-Calling-File", "mod_event_socket.c"),
                ("Event-Calling-Function", "api_exec"),
                ("Event-Calling-Line-Number", "1580"),
                ("Event-Sequence", str(self.sequence)),
                ("Job-UUID", job),
                ("Job-Command", command),
                ("Job-Command-Arg", arg),  # left out when empty, as for a bare `bgapi status`
            ],
            body,
        )
        for session in self.sessions:
            if session.background_events:
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

    # ---- mod_hash (hash.esl) ---------------------------------------------------------------------

    def hash_api(self, args: str) -> str:
        """`hash <op>/<realm>/<key>[/<value>]`: the value is the rest of the line, `/` and `|` included.
        A select that finds nothing answers nothing (the api layer turns that into `-ERR no reply`)."""
        parts = args.split("/", 3)
        if len(parts) < 3:
            return HASH_USAGE
        op, key, value = parts[0].lower(), (parts[1], parts[2]), parts[3] if len(parts) > 3 else None
        current = self.hash.get(key)
        if op == "select":
            return current or ""
        if op == "delete":
            return "-ERR Not found\n" if self.hash.pop(key, None) is None else "+OK\n"
        if value is None:  # insert, insert_ifempty and delete_ifmatch need a value
            return HASH_USAGE
        if op == "insert" or (op == "insert_ifempty" and current is None):
            self.hash[key] = value
            return "+OK\n"
        if op == "insert_ifempty":
            return "-ERR key already exists\n"
        if op == "delete_ifmatch":
            if current is None:
                return "-ERR Not found\n"  # mod_hash's text for this case; the recording has the other two
            if current != value:
                return "-ERR Doesn't match\n"
            del self.hash[key]
            return "+OK\n"
        return HASH_USAGE

    def hash_dump(self, args: str) -> str:
        """`hash_dump all|limit|db [<realm>]`: one `D/<realm>_<key>/<value>` line per entry. The realm filter is
        mod_hash's: `<realm>_` anywhere in the stored key. The order is that of FreeSWITCH's hash table, which
        promises none; here it is insertion order. There is no `limit` data in the simulator."""
        words = args.split()
        if not words or words[0] not in ("all", "limit", "db"):
            return "Usage: all|limit|db [<realm>]\n"  # mod_hash's text, not in the recording
        if words[0] == "limit":
            return ""
        needle = f"{words[1]}_" if len(words) == 2 else ""
        entries = [(f"{realm}_{key}", value) for (realm, key), value in self.hash.items()]
        return "".join(f"D/{name}/{value}\n" for name, value in entries if needle in name)

    # ---- originate (originate.esl) -------------------------------------------------------------------

    def originate(self, args: str) -> tuple[str, float]:
        """`originate [{a=b,c=d}]user/<ext>[@<domain>] <exten>|&<app>() [<dialplan>] [<context>] … [<timeout_sec>]`:
        record the call and say how it ends: (the reply, seconds until then).

        A configured user (the agents' extensions) answers after `answer_delay`: `+OK <uuid of the new channel>`
        (`origination_uuid` if the call set one). One in `unanswered` rings until the originate timeout
        (`originate_timeout`, else the timeout argument, else 60 s; read as a number of seconds, fractions allowed
        here) and gives `-ERR NO_ANSWER` — not recorded: that is the Q.850 cause name FreeSWITCH uses for it.
        An unknown user gives `-ERR SUBSCRIBER_ABSENT` at once (recorded). The simulator has no dialplan or
        gateways: any other endpoint finds no route, `-ERR NO_ROUTE_DESTINATION`, as the recorded loopback call to
        an extension that does not exist.
        """
        words = split_args(args)
        if len(words) < 2 or len(words) > 7:
            return ORIGINATE_USAGE, 0.0  # mod_commands' text, not in the recording
        url, destination = words[0], words[1]
        dialplan = words[2] if len(words) > 2 else "XML"
        context = words[3] if len(words) > 3 else "default"
        variables: dict[str, str] = {}
        if url.startswith("{") and "}" in url:
            block, _, url = url[1:].partition("}")
            for pair in filter(None, block.split(",")):
                name, _, value = pair.partition("=")
                variables[name] = value
        extension, domain = "", ""
        if url.startswith("user/"):
            extension, _, domain = url[len("user/") :].partition("@")
            domain = domain or self.domain
        self.originates.append(
            {
                "variables": variables,
                "endpoint": url,
                "extension": extension,
                "domain": domain,
                "destination": destination,
                "dialplan": dialplan,
                "context": context,
            }
        )
        if not url.startswith("user/"):
            return "-ERR NO_ROUTE_DESTINATION\n", 0.0
        if extension not in self.initial_agents or domain != self.domain:
            return "-ERR SUBSCRIBER_ABSENT\n", 0.0
        if extension in self.unanswered:
            try:
                timeout = float(variables.get("originate_timeout") or (words[6] if len(words) > 6 else 60))
            except ValueError:
                timeout = 60.0
            return "-ERR NO_ANSWER\n", timeout
        return f"+OK {variables.get('origination_uuid') or uuid.uuid4()}\n", self.answer_delay

    def api(self, command: str) -> str:
        name, _, args = command.partition(" ")
        if name == "callcenter_config":
            return self.callcenter_config(split_args(args))
        if name == "hash":
            return self.hash_api(args)
        if name == "hash_dump":
            return self.hash_dump(args)
        if name == "originate":  # a real `api originate` blocks until the call is answered or fails
            return self.originate(args)[0]
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
        """An api command's output; mod_event_socket answers an empty one with `-ERR no reply` (hash.esl)."""
        raw = body.encode() or b"-ERR no reply\n"
        self.writer.write(f"Content-Type: api/response\nContent-Length: {len(raw)}\n\n".encode() + raw)

    async def run(self) -> None:
        self.writer.write(b"Content-Type: auth/request\n\n")
        while True:
            block = await self.reader.readuntil(b"\n\n")
            # The command is the first line; header lines may follow it (`Job-UUID: …` after a bgapi, bgapi.esl).
            command, *lines = block.decode(errors="replace").strip().split("\n")
            command = command.strip()
            if not command:
                continue
            headers = {}
            for line in lines:
                key, sep, value = line.partition(":")
                if sep:
                    headers[key.strip().lower()] = value.strip()
            self.server.commands.append(command)
            if self.server.frozen:
                continue  # a hung PBX: the socket stays open, nothing answers
            if not self.handle(command, headers):
                await self.writer.drain()
                return
            await self.writer.drain()

    def handle(self, command: str, headers: dict[str, str] | None = None) -> bool:
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
            self.bgapi(rest, (headers or {}).get("job-uuid") or str(uuid.uuid4()))
        elif word == "event" and rest.startswith("plain"):
            names = rest.split()[1:]
            self.callcenter_events = "ALL" in names or ("CUSTOM" in names and "callcenter::info" in names)
            self.background_events = "ALL" in names or "BACKGROUND_JOB" in names
            self.hangup_events = "ALL" in names or "CHANNEL_HANGUP_COMPLETE" in names
            self.reply("+OK event listener enabled plain")
        else:
            self.reply("-ERR command not found")
        return True

    def bgapi(self, command: str, job: str) -> None:
        """Answer with the job's id (the client's own `Job-UUID:` header if it sent one) and run the command; its
        output comes later in a BACKGROUND_JOB event, to every session subscribed to those. An originate ends
        when its call does; other commands at once."""
        self.reply(f"+OK Job-UUID: {job}", f"Job-UUID: {job}")
        name, _, args = command.partition(" ")
        body, delay = self.server.originate(args) if name == "originate" else (self.server.api(command), 0.0)
        if delay > 0:
            self.server.later(delay, self.server.background_job, job, name, args, body)
        else:
            self.server.background_job(job, name, args, body)


EslServer.session_class = EslSession
