"""An Asterisk manager (AMI) on asyncio, faithful to the recorded transcripts.

Replies and events carry Asterisk's header names, in Asterisk's order, with
CRLF line endings and the reply texts of a real Asterisk 13+ (see
tests/fixtures/asterisk/). Queue state is real: members added, paused and
removed here are what QueueStatus reports and what the events say.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from dataclasses import dataclass, field

from telephony.simulator.server import SessionServer

log = logging.getLogger(__name__)

Frame = list[tuple[str, str]]


def encode(frame: Frame) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in frame) + "\r\n").encode()


def is_true(value: str) -> bool:
    """Asterisk's ast_true: the words a manager header accepts for yes."""
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


def parse_callerid(text: str) -> tuple[str, str]:
    """(number, name) of a CallerID header such as `"Customer" <0700771301>`; `<unknown>` for a missing part,
    as OriginateResponse reports them (originate.ami)."""
    match = re.fullmatch(r'\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*', text)
    if match:
        name, number = match.group(1) if match.group(1) is not None else match.group(2), match.group(3)
    elif re.fullmatch(r"[0-9*#+]+", text.strip()):
        name, number = "", text.strip()
    else:
        name, number = text.strip(), ""
    return number or "<unknown>", name or "<unknown>"


# The dialplan contexts of the recorded lab (see tests/fixtures/asterisk/README.md). A Local channel into any other
# context cannot be created: its Originate fails with Reason 0, as `Local/nonexistent@nowhere` did in originate.ami.
CONTEXTS = ("caller", "agent-phones", "slow-phones", "from-pstn")


@dataclass
class Member:
    interface: str
    name: str
    state_interface: str
    penalty: int = 0
    paused: bool = False
    reason: str = ""
    status: int = 1  # AST_DEVICE_NOT_INUSE
    in_call: bool = False
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = field(default_factory=lambda: int(time.time()))
    membership: str = "dynamic"
    ringinuse: int = 0

    def fields(self, queue: str) -> Frame:
        """The member block shared by QueueMemberAdded/Removed/Pause/Status."""
        return [
            ("Queue", queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            ("StateInterface", self.state_interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", str(int(self.in_call))),
            ("Status", str(self.status)),
            ("Paused", str(int(self.paused))),
            ("PausedReason", self.reason),
            ("Ringinuse", str(self.ringinuse)),
            ("Wrapuptime", "0"),
        ]


@dataclass
class Caller:
    channel: str
    uniqueid: str
    number: str
    name: str
    joined: float = field(default_factory=time.time)


@dataclass
class QueueState:
    strategy: str
    members: dict[str, Member] = field(default_factory=dict)
    callers: list[Caller] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0


@dataclass
class Contact:
    endpoint: str
    uri: str
    status: str = "Reachable"
    rtt_usec: int = 700


class AmiServer(SessionServer):
    """The AMI side of the simulator: state, sessions and the actions Mayday uses."""

    def __init__(
        self,
        *,
        username: str = "mayday",
        secret: str = "mayday",
        version: str = "13.0.0",
        queues: dict[str, str] | None = None,
        endpoints: list[str] | None = None,
        static: dict[str, list[str]] | None = None,
        pjsip: bool = True,
    ) -> None:
        super().__init__()
        self.username, self.secret, self.version = username, secret, version
        self.initial_queues = queues or {"support": "ringall", "sales": "rrmemory"}
        self.static = static or {}  # queue -> interfaces configured as members (queues.conf), like PJSIP/1006
        self.pjsip = pjsip
        self.endpoints = endpoints if endpoints is not None else [str(n) for n in range(1000, 1100)]
        self.actions: list[dict[str, str]] = []  # every action received, for tests and the curious
        self.originates: list[dict[str, str]] = []  # every Originate action, for tests
        self.astdb: dict[str, str] = {}  # "/family/key" -> value; on disk in Asterisk, so reset() keeps it
        self.answer_delay = 0.05  # seconds a known PJSIP phone takes to answer a click-to-call Originate
        self.unanswered: set[str] = set()  # endpoints whose phone rings but is never answered
        self.reset()
        self._ids = itertools.count(1)
        self._locals = itertools.count(1)
        self._pjsips = itertools.count(1)
        self.caller_entered = None  # set by the scripted activity: (queue, uniqueid) -> None
        self.frozen = False  # True: accept and read, never answer (a half-open or hung manager)

    def reset(self) -> None:
        """A restart: dynamic members, callers, contacts and calls being originated are gone; configured queues and
        AstDB (a file on the PBX) remain."""
        self.cancel_timers()
        self.queues = {name: QueueState(strategy) for name, strategy in self.initial_queues.items()}
        for queue, interfaces in self.static.items():
            for interface in interfaces:
                self.queues[queue].members[interface] = Member(interface, interface, interface, membership="static")
        self.contacts: dict[str, Contact] = {}

    def uniqueid(self) -> str:
        return f"{int(time.time())}.{next(self._ids)}"

    def local_channel(self, exten: str, context: str) -> str:
        """A Local channel's name without its `;1`/`;2` half, numbered as Asterisk does (`Local/s@caller-0000000c`)."""
        return f"Local/{exten}@{context}-{next(self._locals):08x}"

    def pjsip_channel(self, endpoint: str) -> str:
        """A PJSIP channel's name, as chan_pjsip makes it (`PJSIP/1005-00000003`)."""
        return f"PJSIP/{endpoint}-{next(self._pjsips):08x}"

    def astdb_tree(self, family: str, key: str = "") -> list[str]:
        """The AstDB keys under a family, or under a key of it, in key order, as Asterisk's astdb selects them
        (`key || '/' LIKE prefix || '/%'`): a prefix matches whole path segments, `prefix` not `prefixes`."""
        prefix = f"/{family}/{key}" if family and key else f"/{family}" if family else ""
        return sorted(k for k in self.astdb if not prefix or (k + "/").startswith(prefix + "/"))

    # ---- events --------------------------------------------------------------------------------

    def emit(self, name: str, privilege: str, body: Frame) -> None:
        data = encode([("Event", name), ("Privilege", privilege), *body])
        classes = set(privilege.split(","))
        for session in self.sessions:
            if session.events and (session.classes is None or session.classes & classes):
                session.writer.write(data)

    def emit_raw(self, data: bytes) -> None:
        """Write prepared event bytes to every event subscriber, whatever its event mask (the firehose)."""
        for session in self.sessions:
            if session.events:
                session.writer.write(data)

    def member_event(self, name: str, queue: str, member: Member) -> None:
        self.emit(name, "agent,all", member.fields(queue))

    def emit_cdr(
        self,
        *,
        uniqueid: str,
        source: str,
        caller_id: str,
        destination: str,
        context: str,
        channel: str,
        dest_channel: str,
        application: str,
        data: str,
        start: float,
        answer: float,
        end: float,
    ) -> None:
        """One cdr_manager record, fields in Asterisk's order (answered-call.ami). Times are the PBX's wall clock,
        UTC here; an `answer` of 0 is a channel never answered."""

        def stamp(t: float) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else ""

        self.emit(
            "Cdr",
            "cdr,all",
            [
                ("AccountCode", ""),
                ("Source", source),
                ("Destination", destination),
                ("DestinationContext", context),
                ("CallerID", caller_id),
                ("Channel", channel),
                ("DestinationChannel", dest_channel),
                ("LastApplication", application),
                ("LastData", data),
                ("StartTime", stamp(start)),
                ("AnswerTime", stamp(answer)),
                ("EndTime", stamp(end)),
                ("Duration", str(int(end - start))),
                ("BillableSeconds", str(int(end - answer)) if answer else "0"),
                ("Disposition", "ANSWERED" if answer else "NO ANSWER"),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", uniqueid),
                ("UserField", ""),
            ],
        )

    # ---- state changes used by actions and by scripted activity --------------------------------

    def find_members(self, interface: str, queue: str | None = None) -> list[tuple[str, Member]]:
        return [
            (q, s.members[interface])
            for q, s in self.queues.items()
            if (queue is None or q == queue) and interface in s.members
        ]

    def set_paused(self, queue: str, member: Member, paused: bool, reason: str) -> None:
        member.paused, member.reason = paused, reason if paused else ""
        if paused:
            member.last_pause = int(time.time())
        self.member_event("QueueMemberPause", queue, member)

    def set_status(self, queue: str, member: Member, status: int, in_call: bool | None = None) -> None:
        member.status = status
        if in_call is not None:
            member.in_call = in_call
        self.member_event("QueueMemberStatus", queue, member)

    def set_contact(self, endpoint: str, status: str, port: int = 0) -> None:
        contact = self.contacts.get(endpoint) or Contact(endpoint, f"sip:{endpoint}@127.0.0.1:{port or 6000}")
        contact.status = status
        if status == "Removed":
            self.contacts.pop(endpoint, None)
        else:
            self.contacts[endpoint] = contact
        rtt = str(contact.rtt_usec) if status == "Reachable" else "0"
        self.emit(
            "ContactStatus",
            "system,all",
            [
                ("URI", contact.uri),
                ("ContactStatus", status),
                ("AOR", endpoint),
                ("EndpointName", endpoint),
                ("RoundtripUsec", rtt),
            ],
        )


class AmiSession:
    def __init__(self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.authenticated = False
        self.events = False
        self.classes: set[str] | None = None  # None: every class (Events: on)

    def send(self, frame: Frame) -> None:
        self.writer.write(encode(frame))

    def wants(self, event_class: str) -> bool:
        """Whether this session's event mask lets events of that class through (`Events: call` gets no
        FullyBooted, originate.ami)."""
        return self.events and (self.classes is None or bool(self.classes & {event_class, "all"}))

    def reply(self, action: dict[str, str], response: str, message: str | None = None, *extra) -> None:
        frame = [("Response", response)]
        if "actionid" in action:
            frame.append(("ActionID", action["actionid"]))
        if message is not None:
            frame.append(("Message", message))
        self.send([*frame, *extra])

    async def run(self) -> None:
        self.writer.write(f"Asterisk Call Manager/{self.server.version}\r\n".encode())
        while True:
            block = await self.reader.readuntil(b"\r\n\r\n")
            action: dict[str, str] = {}
            for line in block.decode(errors="replace").split("\r\n"):
                key, sep, value = line.partition(":")
                key = key.strip().lower()
                if sep and key == "variable" and key in action:
                    action[key] += "," + value.strip()  # several Variable headers add up, as in Asterisk
                elif sep:
                    action[key] = value.strip()
            if "action" not in action:
                self.send([("Response", "Error"), ("Message", "Missing action in request")])
                continue
            self.server.actions.append(action)
            if self.server.frozen:
                continue  # a hung PBX: the socket stays open, nothing answers
            if not await self.handle(action):
                await self.writer.drain()
                return
            await self.writer.drain()

    async def handle(self, action: dict[str, str]) -> bool:
        name = action["action"].lower()
        if name == "login":
            return self.login(action)
        if name == "logoff":
            self.reply(action, "Goodbye", "Thanks for all the fish.")
            return False
        if not self.authenticated:
            self.reply(action, "Error", "Permission denied")
            return True
        handler = getattr(self, f"do_{name}", None)
        if handler is None or (name.startswith("pjsip") and not self.server.pjsip):
            self.reply(action, "Error", "Invalid/unknown command")
        else:
            handler(action)
        return True

    def login(self, action: dict[str, str]) -> bool:
        if action.get("username") != self.server.username or action.get("secret") != self.server.secret:
            self.reply(action, "Error", "Authentication failed")
            return False  # Asterisk drops the connection after a failed login
        self.authenticated = True
        mask = action.get("events", "on").lower()
        self.events = mask not in ("off", "no", "false", "0")
        self.classes = None if mask in ("on", "yes", "true", "1", "all") else set(mask.split(","))
        self.reply(action, "Success", "Authentication accepted")
        if self.wants("system"):
            self.send(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", "20"),
                    ("LastReload", "20"),
                    ("Status", "Fully Booted"),
                ]
            )
        if self.wants("security"):
            tv = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
            peer = self.writer.get_extra_info("peername") or ("127.0.0.1", 0)
            local = self.writer.get_extra_info("sockname") or ("127.0.0.1", 0)
            self.send(
                [
                    ("Event", "SuccessfulAuth"),
                    ("Privilege", "security,all"),
                    ("EventTV", tv),
                    ("Severity", "Informational"),
                    ("Service", "AMI"),
                    ("EventVersion", "1"),
                    ("AccountID", self.server.username),
                    ("SessionID", f"0x{id(self):x}"),
                    ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
                    ("RemoteAddress", f"IPV4/TCP/{peer[0]}/{peer[1]}"),
                    ("UsingPassword", "0"),
                    ("SessionTV", tv),
                ]
            )
        return True

    def do_ping(self, action: dict[str, str]) -> None:
        self.reply(action, "Success", None, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))

    def do_events(self, action: dict[str, str]) -> None:
        self.events = action.get("eventmask", "on").lower() not in ("off", "no", "false", "0")
        self.reply(action, "Success", None, ("Events", "On" if self.events else "Off"))

    def do_queueadd(self, action: dict[str, str]) -> None:
        queue, interface = action.get("queue", ""), action.get("interface", "")
        if not queue or not interface:
            self.reply(action, "Error", "'Queue' and 'Interface' not set.")
            return
        state = self.server.queues.get(queue)
        if state is None:
            self.reply(action, "Error", "Unable to add interface to queue: No such queue")
            return
        if interface in state.members:
            self.reply(action, "Error", "Unable to add interface: Already there")
            return
        paused = action.get("paused", "false").lower() in ("true", "yes", "1")
        member = Member(
            interface=interface,
            name=action.get("membername") or interface,
            state_interface=action.get("stateinterface") or interface,
            penalty=int(action.get("penalty") or 0),
            paused=paused,
            reason=action.get("reason", "") if paused else "",
        )
        if paused:
            member.last_pause = int(time.time())
        state.members[interface] = member
        self.reply(action, "Success", "Added interface to queue")
        self.server.member_event("QueueMemberAdded", queue, member)

    def do_queueremove(self, action: dict[str, str]) -> None:
        queue, interface = action.get("queue", ""), action.get("interface", "")
        state = self.server.queues.get(queue)
        if state is None:
            self.reply(action, "Error", "Unable to remove interface from queue: No such queue")
            return
        member = state.members.get(interface)
        if member is None:
            self.reply(action, "Error", "Unable to remove interface: Not there")
            return
        if member.membership == "static":
            self.reply(action, "Error", "Member not dynamic")
            return
        del state.members[interface]
        self.reply(action, "Success", "Removed interface from queue")
        self.server.member_event("QueueMemberRemoved", queue, member)

    def do_queuepause(self, action: dict[str, str]) -> None:
        interface, paused_word = action.get("interface", ""), action.get("paused", "")
        if not interface or not paused_word:
            self.reply(action, "Error", "Need 'Interface' and 'Paused' parameters.")
            return
        paused = paused_word.lower() in ("true", "yes", "1")
        found = self.server.find_members(interface, action.get("queue") or None)
        if not found:
            self.reply(action, "Error", "Interface not found")
            return
        self.reply(action, "Success", f"Interface {'paused' if paused else 'unpaused'} successfully")
        for queue, member in found:
            self.server.set_paused(queue, member, paused, action.get("reason", ""))

    def _list(self, action: dict[str, str], message: str, items: list[Frame], complete: str) -> None:
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        self.send([("Response", "Success"), *aid, ("EventList", "start"), ("Message", message)])
        for item in items:
            self.send(item)
        self.send([("Event", complete), *aid, ("EventList", "Complete"), ("ListItems", str(len(items)))])

    def do_queuestatus(self, action: dict[str, str]) -> None:
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        items: list[Frame] = []
        now = time.time()
        for name, q in self.server.queues.items():
            if action.get("queue") and action["queue"] != name:
                continue
            items.append(
                [
                    ("Event", "QueueParams"),
                    ("Queue", name),
                    ("Max", "0"),
                    ("Strategy", q.strategy),
                    ("Calls", str(len(q.callers))),
                    ("Holdtime", "0"),
                    ("TalkTime", "0"),
                    ("Completed", str(q.completed)),
                    ("Abandoned", str(q.abandoned)),
                    ("ServiceLevel", "0"),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", "0"),
                    *aid,
                ]
            )
            for m in q.members.values():
                block = dict(m.fields(name))
                items.append(
                    [
                        ("Event", "QueueMember"),
                        ("Queue", name),
                        ("Name", m.name),
                        ("Location", m.interface),
                        *[
                            (k, block[k])
                            for k in (
                                "StateInterface",
                                "Membership",
                                "Penalty",
                                "CallsTaken",
                                "LastCall",
                                "LastPause",
                                "LoginTime",
                                "InCall",
                                "Status",
                                "Paused",
                                "PausedReason",
                                "Wrapuptime",
                            )
                        ],
                        *aid,
                    ]
                )
            for position, c in enumerate(q.callers, start=1):
                items.append(
                    [
                        ("Event", "QueueEntry"),
                        ("Queue", name),
                        ("Position", str(position)),
                        ("Channel", c.channel),
                        ("Uniqueid", c.uniqueid),
                        ("CallerIDNum", c.number),
                        ("CallerIDName", c.name),
                        ("ConnectedLineNum", "<unknown>"),
                        ("ConnectedLineName", "<unknown>"),
                        ("Wait", str(int(now - c.joined))),
                        ("Priority", "0"),
                        *aid,
                    ]
                )
        self._list(action, "Queue status will follow", items, "QueueStatusComplete")

    def do_queuesummary(self, action: dict[str, str]) -> None:
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        items = []
        for name, q in self.server.queues.items():
            available = sum(1 for m in q.members.values() if not m.paused and m.status == 1)
            items.append(
                [
                    ("Event", "QueueSummary"),
                    ("Queue", name),
                    ("LoggedIn", str(len(q.members))),
                    ("Available", str(available)),
                    ("Callers", str(len(q.callers))),
                    ("HoldTime", "0"),
                    ("TalkTime", "0"),
                    ("LongestHoldTime", "0"),
                    *aid,
                ]
            )
        self._list(action, "Queue summary will follow", items, "QueueSummaryComplete")

    def do_pjsipshowendpoints(self, action: dict[str, str]) -> None:
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        items = []
        for ep in self.server.endpoints:
            contact = self.server.contacts.get(ep)
            items.append(
                [
                    ("Event", "EndpointList"),
                    *aid,
                    ("ObjectType", "endpoint"),
                    ("ObjectName", ep),
                    ("Transport", "transport-udp"),
                    ("Aor", ep),
                    ("Auths", ep),
                    ("OutboundAuths", ""),
                    ("Contacts", f"{ep}/{contact.uri}," if contact else ""),
                    ("DeviceState", "Not in use" if contact else "Unavailable"),
                    ("ActiveChannels", "0"),
                ]
            )
        self._list(
            action, "A listing of Endpoints follows, presented as EndpointList events", items, "EndpointListComplete"
        )

    def do_pjsipshowcontacts(self, action: dict[str, str]) -> None:
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        items = []
        for ep, c in self.server.contacts.items():
            host, _, port = c.uri.rpartition("@")[2].partition(":")
            rtt = str(c.rtt_usec) if c.status == "Reachable" else "N/A"
            items.append(
                [
                    ("Event", "ContactList"),
                    *aid,
                    ("ObjectType", "contact"),
                    ("ObjectName", f"{ep};@sim{ep}"),
                    ("ViaAddr", host),
                    ("QualifyTimeout", "3.000000"),
                    ("Qualify2xxOnly", "false"),
                    ("CallId", f"sim-{ep}@{host}"),
                    ("RegServer", ""),
                    ("PruneOnBoot", "no"),
                    ("Path", ""),
                    ("Endpoint", ep),
                    ("ViaPort", port),
                    ("AuthenticateQualify", "no"),
                    ("Uri", c.uri),
                    ("QualifyFrequency", "5"),
                    ("UserAgent", "mayday-simulator/1.0"),
                    ("ExpirationTime", str(int(time.time()) + 60)),
                    ("OutboundProxy", ""),
                    ("Status", c.status),
                    ("RoundtripUsec", rtt),
                ]
            )
        self._list(
            action, "A listing of Contacts follows, presented as ContactList events", items, "ContactListComplete"
        )

    def do_coreshowchannels(self, action: dict[str, str]) -> None:
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        items = []
        for name, q in self.server.queues.items():
            for c in q.callers:
                items.append(
                    [
                        ("Event", "CoreShowChannel"),
                        *aid,
                        ("Channel", c.channel),
                        ("ChannelState", "6"),
                        ("ChannelStateDesc", "Up"),
                        ("CallerIDNum", c.number),
                        ("CallerIDName", c.name),
                        ("ConnectedLineNum", "<unknown>"),
                        ("ConnectedLineName", "<unknown>"),
                        ("Language", "en"),
                        ("AccountCode", ""),
                        ("Context", "from-pstn"),
                        ("Exten", name),
                        ("Priority", "2"),
                        ("Uniqueid", c.uniqueid),
                        ("Linkedid", c.uniqueid),
                        ("Application", "Queue"),
                        ("ApplicationData", name),
                        ("Duration", time.strftime("%H:%M:%S", time.gmtime(time.time() - c.joined))),
                        ("BridgeId", ""),
                    ]
                )
        self._list(action, "Channels will follow", items, "CoreShowChannelsComplete")

    def do_command(self, action: dict[str, str]) -> None:
        command = action.get("command", "")
        words = command.split()
        if words[:2] == ["queue", "show"] and len(words) == 3 and words[2] in self.server.queues:
            lines = self._queue_show(words[2])
        elif words[:3] == ["core", "show", "version"]:
            lines = [f"Asterisk {self.server.version} (mayday simulator)"]
        else:
            lines = [f"No such command '{command}' (type 'core show help {command}' for other possible commands)"]
        self.reply(action, "Success", "Command output follows", *[("Output", line) for line in lines])

    def _queue_show(self, name: str) -> list[str]:
        q = self.server.queues[name]
        lines = [
            f"{name} has {len(q.callers)} calls (max unlimited) in '{q.strategy}' strategy (0s holdtime, 0s "
            f"talktime), W:0, C:{q.completed}, A:{q.abandoned}, SL:0.0%, SL2:0.0% within 0s"
        ]
        lines.append("   Members: " if q.members else "   No Members")
        for m in q.members.values():
            state = "Not in use" if m.status == 1 else "In use" if m.status == 2 else "Ringing"
            paused = f" (paused:{m.reason})" if m.paused and m.reason else " (paused)" if m.paused else ""
            lines.append(
                f"      {m.name} ({m.interface}) (ringinuse disabled) ({m.membership}){paused} ({state}) "
                f"has taken {m.calls_taken or 'no'} calls"
            )
        lines.append("   No Callers" if not q.callers else "   Callers: ")
        return [*lines, ""]

    # ---- AstDB (astdb.ami) -------------------------------------------------------------------------
    # The "No family/key specified" errors are not in the recording: they are main/db.c's texts (DBPut's without
    # the full stop the others have).

    def _family_key(self, action: dict[str, str], *, key: bool = True, stop: str = ".") -> tuple[str, str] | None:
        """Family and Key of a DB action, or None once the missing one has been refused."""
        family, name = action.get("family", ""), action.get("key", "")
        if not family:
            self.reply(action, "Error", f"No family specified{stop}")
            return None
        if key and not name:
            self.reply(action, "Error", f"No key specified{stop}")
            return None
        return family, name

    def do_dbput(self, action: dict[str, str]) -> None:
        if found := self._family_key(action, stop=""):
            family, key = found
            self.server.astdb[f"/{family}/{key}"] = action.get("val", "")  # no Val stores "", as recorded
            self.reply(action, "Success", "Updated database successfully")

    def do_dbget(self, action: dict[str, str]) -> None:
        if not (found := self._family_key(action)):
            return
        family, key = found
        value = self.server.astdb.get(f"/{family}/{key}")
        if value is None:
            self.reply(action, "Error", "Database entry not found")
            return
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        item = [("Event", "DBGetResponse"), ("Family", family), ("Key", key), ("Val", value), *aid]
        self._list(action, "Result will follow", [item], "DBGetComplete")

    def do_dbgettree(self, action: dict[str, str]) -> None:
        """Without a Family, Asterisk lists the whole database; a family with nothing in it is an empty list."""
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        keys = self.server.astdb_tree(action.get("family", ""), action.get("key", ""))
        items = [[("Event", "DBGetTreeResponse"), ("Key", k), ("Val", self.server.astdb[k]), *aid] for k in keys]
        self._list(action, "Result will follow", items, "DBGetTreeComplete")

    def do_dbdel(self, action: dict[str, str]) -> None:
        if not (found := self._family_key(action)):
            return
        family, key = found
        if self.server.astdb.pop(f"/{family}/{key}", None) is None:
            self.reply(action, "Error", "Database entry could not be deleted")
        else:
            self.reply(action, "Success", "Key deleted successfully")

    def do_dbdeltree(self, action: dict[str, str]) -> None:
        if not (found := self._family_key(action, key=False)):
            return
        keys = self.server.astdb_tree(*found)
        for k in keys:
            del self.server.astdb[k]
        if keys:
            self.reply(action, "Success", "Key tree deleted successfully")
        else:
            self.reply(action, "Error", "Database entry not found")

    # ---- Originate (originate.ami) -----------------------------------------------------------------

    def do_originate(self, action: dict[str, str]) -> None:
        """Queue the call and answer at once, as Asterisk does with and without Async (both recorded).

        With `Async: true` an OriginateResponse follows (to the sessions whose event mask takes `call`):
        - `PJSIP/<ext>` (click-to-call): once the phone answers (`answer_delay`) if `<ext>` is an endpoint; never if
          it is in `unanswered` (Failure after the action's Timeout); at once for an unknown endpoint (Failure,
          Reason 0, as for the recorded channel that could not be created);
        - `Local/<exten>@<context>`: at once, Success if the context is in the lab's dialplan (`CONTEXTS`) — into
          `Context: from-pstn` + `Exten: <queue>` this places a simulated caller in that queue —, else Failure;
        - any other channel technology: Failure, Reason 0.
        Without Async no OriginateResponse is sent (as recorded); the Local caller still enters its queue.
        """
        channel = action.get("channel", "")
        if not channel:
            self.reply(action, "Error", "Channel not specified")  # manager.c's text, not in the recording
            return
        self.server.originates.append(action)
        self.reply(action, "Success", "Originate successfully queued")
        asynchronous = is_true(action.get("async", ""))
        tech, _, resource = channel.partition("/")
        if tech.upper() == "PJSIP":
            if asynchronous:
                self._originate_pjsip(action, resource)
            return
        exten, _, context = resource.partition("/")[0].partition("@")  # Local/1005@agent-phones/n: options after /
        created = tech == "Local" and context in CONTEXTS
        uniqueid = self.server.uniqueid() if created else "<unknown>"
        if asynchronous:
            name = f"{self.server.local_channel(exten, context)};1" if created else channel
            self._originate_response(action, created, name, "4" if created else "0", uniqueid)
        queue = action.get("exten", "")
        if created and self.server.caller_entered is not None and queue in self.server.queues:
            self.server.caller_entered(queue, uniqueid)

    def _originate_pjsip(self, action: dict[str, str], endpoint: str) -> None:
        server = self.server
        if not server.pjsip or endpoint not in server.endpoints:
            self._originate_response(action, False, action["channel"], "0", "<unknown>")
        elif endpoint in server.unanswered:
            try:
                timeout = int(action.get("timeout") or 30000) / 1000
            except ValueError:
                timeout = 30.0
            # Reason 3 (AST_CONTROL_RINGING, the last thing the phone said) is not recorded: it is what Asterisk
            # reports when a ringing phone outlasts the Timeout.
            server.later(timeout, self._originate_response, action, False, action["channel"], "3", "<unknown>")
        else:
            channel = server.pjsip_channel(endpoint)
            server.later(server.answer_delay, self._originate_response, action, True, channel, "4", server.uniqueid())

    def _originate_response(self, action: dict[str, str], ok: bool, channel: str, reason: str, uniqueid: str) -> None:
        """OriginateResponse with the recorded header order; CallerIDNum/Name are those the action asked for."""
        number, name = parse_callerid(action.get("callerid", ""))
        aid = [("ActionID", action["actionid"])] if "actionid" in action else []
        self.server.emit(
            "OriginateResponse",
            "call,all",
            [
                *aid,
                ("Response", "Success" if ok else "Failure"),
                ("Channel", channel),
                ("Context", action.get("context", "")),
                ("Exten", action.get("exten", "")),
                ("Reason", reason),
                ("Uniqueid", uniqueid),
                ("CallerIDNum", number),
                ("CallerIDName", name),
            ],
        )


AmiServer.session_class = AmiSession
