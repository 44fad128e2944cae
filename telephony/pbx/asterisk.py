"""Asterisk over AMI, through panoramisk.

panoramisk 1.4 needs care (see DESIGN.md): a `QueueAdd` reply looks like the
start of a list to it, so it is sent with `as_list=False`; its Manager
reconnects by itself and re-sends unanswered actions, so `AmiManager` turns
that off (reconnecting is the listener's job, with backoff); its ping never
checks the answer, so the listener pings and checks itself.
"""

from __future__ import annotations

import asyncio
import codecs
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from telephony import validators
from telephony.pbx import events as ev
from telephony.pbx import routing
from telephony.pbx.base import (
    COMMAND_TIMEOUT,
    LOGGED_OUT_REASON,
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
    validate_member,
    validate_routing,
)
from telephony.pbx.base import ContactState as Contact

# Members are added as PJSIP endpoints; events may name any technology (Local/1005@ctx/n, SIP/1005).
_INTERFACE = re.compile(r"[A-Za-z0-9]+/([^@/;]+)")


def interface_for(extension: str) -> str:
    return f"PJSIP/{extension}"


def extension_of(interface: str) -> str:
    match = _INTERFACE.match(interface)
    return match.group(1) if match else interface


# Event classes the listener asks Asterisk for: queue/agent events, contacts and boot (system), CDRs.
# Dialplan, call and reporting chatter (Newexten, VarSet, RTCP…) then never leaves Asterisk.
EVENT_MASK = "system,agent,cdr"


class AmiProtocol(AMIProtocol):
    """panoramisk's protocol with a fast lane for events.

    Replies and list items (they carry an ActionID) go through panoramisk as
    usual. Pushed events skip its Message class: the ones `ami_event` maps are
    split into a plain dict and handed to the manager's `event_sink`; the rest
    (Newexten, VarSet, RTCP…) are dropped after reading one line.
    """

    wanted: frozenset[str] = frozenset()  # the mapped event names, set below once _MAPPERS exists

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # Incremental: a UTF-8 character split across two TCP reads is kept, not dropped.
        self.decoder = codecs.getincrementaldecoder("utf8")("ignore")

    def data_received(self, data: bytes) -> None:
        text = self.decoder.decode(data)
        if self.queue:
            text = self.queue.popleft() + text
        # Read the banner once its line is complete, however the first bytes were split.
        if self.version is None and text.startswith("Asterisk Call Manager/") and "\r\n" in text:
            self.version = text.partition("\r\n")[0].partition("/")[2].strip()
        frames = text.split("\r\n\r\n")
        self.queue.append(frames.pop())
        sink, wanted = getattr(self.factory, "event_sink", None), self.wanted
        for frame in frames:
            frame = frame.strip()
            # ActionID as a header line, not as text inside a value (a caller-ID name could hold it).
            if frame.startswith("Event: ") and "\r\nActionID: " not in frame:
                end = frame.find("\r\n")
                if sink is not None and (frame[7:end] if end > 0 else frame[7:]) in wanted:
                    headers = {}
                    for line in frame.split("\r\n"):
                        key, sep, value = line.partition(": ")
                        headers[key if sep else key.rstrip(":")] = value
                    sink(headers)
                continue
            message = Message.from_line(frame)
            if message is not None:
                self.handle_message(message)


class AmiManager(Manager):
    """A panoramisk Manager for one connection: no auto-reconnect, no blind pinger, a `closed` future."""

    def __init__(self, **config) -> None:
        super().__init__(**config)
        self.closed: asyncio.Future = self.loop.create_future()
        self.event_sink = None  # called with each mapped event as a dict (see AmiProtocol)

    async def open(self, timeout: float | None = None) -> None:
        timeout = COMMAND_TIMEOUT if timeout is None else timeout  # read when called: it can be changed
        host, port = self.config["host"], self.config["port"]
        connected = self.loop.create_future()
        try:
            connected.set_result(await asyncio.wait_for(self.loop.create_connection(AmiProtocol, host, port), timeout))
        except (OSError, TimeoutError) as exc:
            raise PbxError(f"cannot reach AMI at {host}:{port}: {exc or 'timed out'}", retryable=True) from exc
        self.connection_made(connected)  # panoramisk wires the protocol and sends Login
        login = self.authenticated_future
        try:
            reply = await asyncio.wait_for(asyncio.shield(login), timeout)
        except TimeoutError as exc:
            self.close()
            raise PbxError(f"AMI at {host}:{port} did not answer the login", retryable=True) from exc
        self._stop_pinger()
        if not reply.success:
            self.close()
            raise PbxError(f"AMI login refused: {reply.message}", retryable=False)

    def _stop_pinger(self) -> None:
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None

    def connection_lost(self, exc) -> None:
        self._connected = False
        self._stop_pinger()
        # Unanswered actions would be re-sent on a reconnect we never make: fail them now.
        while self.awaiting_actions:
            action = self.awaiting_actions.popleft()
            if not action.future.done():
                action.future.set_exception(PbxError("AMI connection lost", retryable=True))
        if not self.closed.done():
            self.closed.set_result(exc)

    def close(self) -> None:
        super().close()  # moves unanswered actions to awaiting_actions and closes the socket
        self.connection_lost(None)

    async def act(self, action: dict, *, as_list: bool | None = None, timeout: float | None = None):
        """Send one action and wait for its reply (a Message, or a list for list actions)."""
        timeout = COMMAND_TIMEOUT if timeout is None else timeout
        if not self._connected:
            raise PbxError("AMI connection lost", retryable=True)
        try:
            return await asyncio.wait_for(self.send_action(dict(action), as_list=as_list), timeout)
        except TimeoutError as exc:
            raise PbxError(f"AMI {action['Action']} got no answer in {timeout:g}s", retryable=True) from exc


def ami_manager(pbx, *, events: str) -> AmiManager:
    """A manager for `pbx` that logs in with this event mask (`off`, or classes such as EVENT_MASK)."""
    # The Login action carries these: checked like every other value before any byte is written.
    checked(validators.validate_name, pbx.username)
    checked(validators.validate_secret, pbx.secret)
    return AmiManager(
        loop=asyncio.get_running_loop(),
        host=pbx.host,
        port=pbx.port,
        username=pbx.username,
        secret=pbx.secret,
        events=events,
    )


def _ok(reply, *, tolerate: tuple[str, ...] = ()) -> None:
    if not reply.success and not any(text in reply.message for text in tolerate):
        raise PbxError(f"Asterisk refused: {reply.message}", retryable=False)


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _device_state(code: str) -> str:
    return ev.DEVICE_STATES.get(_int(code), "unknown")


async def ami_snapshot(manager: AmiManager) -> Snapshot:
    """QueueStatus, plus PJSIP endpoints and contacts where the PBX has PJSIP."""
    snap = Snapshot()
    for msg in _as_list(await manager.act({"Action": "QueueStatus"})):
        name = msg.get("Event")
        if name == "QueueParams":
            snap.queues.append(msg["Queue"])
        elif name == "QueueMember":
            # QueueStatus calls the member Name/Location; push events call it MemberName/Interface.
            snap.members.append(
                MemberState(
                    queue=msg["Queue"],
                    extension=extension_of(msg["Location"]),
                    paused=msg.get("Paused") == "1",
                    reason=msg.get("PausedReason", ""),
                    device_state=_device_state(msg.get("Status")),
                    in_call=msg.get("InCall") == "1",
                    calls_taken=_int(msg.get("CallsTaken")),
                    last_call=_int(msg.get("LastCall")),
                    penalty=_int(msg.get("Penalty")),
                )
            )
    endpoints = await manager.act({"Action": "PJSIPShowEndpoints"})
    if not isinstance(endpoints, list) and not endpoints.success:
        if "Invalid/unknown command" in endpoints.message:  # Asterisk built without PJSIP
            return snap
        _ok(endpoints, tolerate=("No endpoints found",))
    snap.has_sip = True
    snap.endpoints = [m["ObjectName"] for m in _as_list(endpoints) if m.get("Event") == "EndpointList"]
    contacts = await manager.act({"Action": "PJSIPShowContacts"})
    _ok(contacts if not isinstance(contacts, list) else contacts[0], tolerate=("No Contacts found", "No contacts"))
    for m in _as_list(contacts):
        if m.get("Event") == "ContactList":
            rtt = m.get("RoundtripUsec", "")
            snap.contacts.append(Contact(m["Endpoint"], m["Uri"], m["Status"], int(rtt) if rtt.isdigit() else None))
    return snap


def _as_list(reply) -> list:
    return reply if isinstance(reply, list) else [reply]


# ---- events ----------------------------------------------------------------------------------------


def _member_added(f: Mapping) -> ev.Event:
    return ev.MemberAdded(
        f["Queue"],
        extension_of(f["Interface"]),
        f.get("Paused") == "1",
        f.get("PausedReason", ""),
        _device_state(f.get("Status")),
        _int(f.get("Penalty")),
        _int(f.get("CallsTaken")),
        _int(f.get("LastCall")),
    )


def _member_status(f: Mapping) -> ev.Event:
    return ev.MemberStatus(
        f["Queue"],
        extension_of(f["Interface"]),
        _device_state(f.get("Status")),
        f.get("InCall") == "1",
        f.get("Paused") == "1",
        f.get("PausedReason", ""),
        _int(f.get("CallsTaken")),
        _int(f.get("LastCall")),
    )


def _at(f: Mapping) -> float:
    """The event's own time when Asterisk sends one (`timestampevents = yes`), else 0 (the listener stamps it)."""
    try:
        return float(f.get("Timestamp", 0))
    except ValueError:
        return 0.0


def _uniqueid_epoch(uniqueid: str) -> int | None:
    """A channel's creation second, from its uniqueid (`[systemname-]epoch.sequence`)."""
    head = uniqueid.rpartition("-")[2].partition(".")[0]
    return int(head) if head.isdigit() else None


def _cdr_times(f: Mapping) -> tuple[float, float, float]:
    """(start, answer, end) as epochs. cdr_manager writes the PBX's local wall time with no zone; the uniqueid
    says when the channel was created, at or before the record starts, so the difference rounded down to the
    quarter hour is the PBX's UTC offset (exact for records that start within 15 minutes of their channel)."""
    stamps = []
    for key in ("StartTime", "AnswerTime", "EndTime"):
        try:
            naive = datetime.strptime(f.get(key, ""), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            stamps.append(0.0)
        else:
            stamps.append(naive.replace(tzinfo=UTC).timestamp())
    created = _uniqueid_epoch(f.get("UniqueID", ""))
    offset = (stamps[0] - created) // 900 * 900 if created and stamps[0] else 0
    return tuple(stamp - offset if stamp else 0.0 for stamp in stamps)


def _cdr(f: Mapping) -> ev.Event | None:
    disposition = f.get("Disposition", "")
    if disposition not in ev.CDR_DISPOSITIONS:
        return None
    start, answer, end = _cdr_times(f)
    channel = f.get("Channel", "")
    return ev.CdrRecorded(
        call_id=f.get("UniqueID", ""),
        source=f.get("Source", ""),
        destination=f.get("Destination", ""),
        destination_context=f.get("DestinationContext", ""),
        caller_id=f.get("CallerID", ""),
        channel=channel,
        destination_channel=f.get("DestinationChannel", ""),
        last_application=f.get("LastApplication", ""),
        start=start,
        answer=answer,
        end=end,
        duration=_int(f.get("Duration")),
        billable_seconds=_int(f.get("BillableSeconds")),
        disposition=disposition,
        account_code=f.get("AccountCode", ""),
        # The second half of a Local channel is a leg inside the PBX (a Local member's phone leg, a dialplan hop).
        internal=channel.startswith("Local/") and channel.endswith(";2"),
    )


_MAPPERS: dict[str, Callable[[Mapping], ev.Event | None]] = {
    "QueueMemberAdded": _member_added,
    "QueueMemberRemoved": lambda f: ev.MemberRemoved(f["Queue"], extension_of(f["Interface"])),
    "QueueMemberStatus": _member_status,
    "QueueMemberPause": lambda f: ev.MemberPaused(
        f["Queue"], extension_of(f["Interface"]), f.get("Paused") == "1", f.get("PausedReason", "")
    ),
    "ContactStatus": lambda f: ev.ContactStatus(
        f.get("EndpointName", f.get("AOR", "")),
        f.get("URI", ""),
        f.get("ContactStatus", "Unknown"),
        _int(f.get("RoundtripUsec"), 0) or None,
    ),
    "QueueCallerJoin": lambda f: ev.CallerJoined(
        f["Queue"],
        f.get("Uniqueid", ""),
        f.get("CallerIDNum", ""),
        f.get("CallerIDName", ""),
        _int(f.get("Position")),
        at=_at(f),
    ),
    "QueueCallerLeave": lambda f: ev.CallerLeft(f["Queue"], f.get("Uniqueid", ""), _int(f.get("Position")), at=_at(f)),
    "QueueCallerAbandon": lambda f: ev.CallerAbandoned(
        f["Queue"],
        f.get("Uniqueid", ""),
        _int(f.get("Position")),
        _int(f.get("OriginalPosition")),
        _int(f.get("HoldTime")),
        at=_at(f),
    ),
    "AgentCalled": lambda f: ev.AgentCalled(
        f["Queue"],
        extension_of(f["Interface"]),
        f.get("Uniqueid", ""),
        f.get("MemberName", ""),
        leg=f.get("DestUniqueid", ""),
        at=_at(f),
    ),
    "AgentConnect": lambda f: ev.AgentConnected(
        f["Queue"],
        extension_of(f["Interface"]),
        f.get("Uniqueid", ""),
        _int(f.get("HoldTime")),
        _int(f.get("RingTime")),
        leg=f.get("DestUniqueid", ""),
        at=_at(f),
    ),
    "AgentComplete": lambda f: ev.AgentCompleted(
        f["Queue"],
        extension_of(f["Interface"]),
        f.get("Uniqueid", ""),
        _int(f.get("HoldTime")),
        _int(f.get("TalkTime")),
        f.get("Reason", ""),
        at=_at(f),
    ),
    "AgentRingNoAnswer": lambda f: ev.AgentRingNoAnswer(
        f["Queue"],
        extension_of(f["Interface"]),
        f.get("Uniqueid", ""),
        _int(f.get("RingTime")),
        leg=f.get("DestUniqueid", ""),
        at=_at(f),
    ),
    "Cdr": _cdr,
}
_MAPPERS["QueueMemberPaused"] = _MAPPERS["QueueMemberPause"]  # the name before Asterisk 12
AmiProtocol.wanted = frozenset(_MAPPERS)


def ami_event(frame: Mapping) -> ev.Event | None:
    """Normalize one AMI event; everything Mayday does not use (VarSet, Newexten, RTCP…) is None.

    So is an event without the Queue or Interface that says what it is about: nothing to apply it to.
    """
    mapper = _MAPPERS.get(frame.get("Event", ""))
    try:
        return mapper(frame) if mapper else None
    except KeyError:
        return None


# ---- commands --------------------------------------------------------------------------------------


@register("asterisk")
class AsteriskBackend(PbxBackend):
    """Commands over one AMI connection, run on a private event loop (tasks are synchronous)."""

    def open(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.manager: AmiManager | None = None

        async def connect() -> AmiManager:
            manager = ami_manager(self.pbx, events="call" if self.calls else "off")
            await manager.open()
            return manager

        try:
            self.manager = self.loop.run_until_complete(connect())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.manager is not None:
            self.manager.close()
            self.manager = None
        if not self.loop.is_closed():
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()

    def reusable(self) -> bool:
        manager = self.manager
        return manager is not None and manager._connected and quiet(manager.protocol.transport.get_extra_info("socket"))

    def _act(self, action: dict, **kwargs):
        return self.loop.run_until_complete(self.manager.act(action, **kwargs))

    def ping(self) -> None:
        _ok(self._act({"Action": "Ping"}))

    def snapshot(self) -> Snapshot:
        return self.loop.run_until_complete(ami_snapshot(self.manager))

    def member_add(self, *, queue: str, extension: str, name: str, penalty: int, paused: bool, reason: str) -> None:
        validate_member(queue, extension, reason)
        action = {
            "Action": "QueueAdd",
            "Queue": queue,
            "Interface": interface_for(extension),
            "StateInterface": interface_for(extension),
            "Penalty": str(int(penalty)),
            "Paused": "true" if paused else "false",
        }
        if name:
            action["MemberName"] = _safe_name(name)
        if paused and reason:
            action["Reason"] = reason
        # as_list=False: panoramisk would otherwise wait forever for more of "Added interface to queue".
        _ok(self._act(action, as_list=False), tolerate=("Already there",))

    def member_remove(self, *, queue: str, extension: str) -> None:
        validate_member(queue, extension)
        action = {"Action": "QueueRemove", "Queue": queue, "Interface": interface_for(extension)}
        _ok(self._act(action), tolerate=("Not there",))

    def member_pause(self, *, extension: str, paused: bool, reason: str = "", queue: str | None = None) -> None:
        validate_member(queue, extension, reason)
        action = {
            "Action": "QueuePause",
            "Interface": interface_for(extension),
            "Paused": "true" if paused else "false",
        }
        if queue is not None:  # without Queue, Asterisk pauses the member in every queue
            action["Queue"] = queue
        if reason:
            action["Reason"] = reason
        _ok(self._act(action))

    def agent_set_status(self, *, extension: str, status: str) -> None:
        raise PbxError("Asterisk has no agent status; use queue membership and pauses", retryable=False)

    def set_availability(
        self, *, extension: str, name: str, availability: str, reason: str, queues: list[Seat]
    ) -> None:
        """Available: in every queue, unpaused. On break: in every queue, paused with the reason
        (one QueuePause without Queue = all queues). Logged out: out of each queue, or paused there
        with reason Logged Out where the queue says so or Asterisk keeps the member (static)."""
        if availability == AgentMode.LOGGED_OUT:
            for seat in queues:
                if not seat.pause_on_logout:
                    try:
                        self.member_remove(queue=seat.queue, extension=extension)
                        continue
                    except PbxError as exc:
                        if "not dynamic" not in exc.message:
                            raise
                else:
                    self.member_add(
                        queue=seat.queue,
                        extension=extension,
                        name=name,
                        penalty=seat.penalty,
                        paused=True,
                        reason=LOGGED_OUT_REASON,
                    )
                self.member_pause(extension=extension, paused=True, reason=LOGGED_OUT_REASON, queue=seat.queue)
            return
        on_break = availability == AgentMode.ON_BREAK
        reason = reason if on_break else ""
        for seat in queues:
            self.member_add(
                queue=seat.queue, extension=extension, name=name, penalty=seat.penalty, paused=on_break, reason=reason
            )
        if queues:
            self.member_pause(extension=extension, paused=on_break, reason=reason)

    def routing_read(self) -> dict[str, str]:
        top = f"/{routing.FAMILY}/"
        reply = self._act({"Action": "DBGetTree", "Family": routing.FAMILY})
        _ok(_as_list(reply)[0], tolerate=("not found",))  # an older Asterisk's word for an empty family
        return {
            m["Key"][len(top) :]: m.get("Val", "")
            for m in _as_list(reply)
            if m.get("Event") == "DBGetTreeResponse" and m.get("Key", "").startswith(top)
        }

    def routing_put(self, key: str, value: str) -> None:
        validate_routing(key, value)
        _ok(self._act({"Action": "DBPut", "Family": routing.FAMILY, "Key": key, "Val": value}))

    def routing_delete(self, key: str) -> None:
        validate_routing(key)
        _ok(self._act({"Action": "DBDel", "Family": routing.FAMILY, "Key": key}), tolerate=("could not be deleted",))

    def originate(self, *, call_id: str, extension: str, number: str, did: str) -> Originated:
        """`Originate` with `Async: true`: queued at once, then `OriginateResponse` (matched by its ActionID, which
        is the call's id) once the agent's phone answered or gave up. Channel variables tell the dialplan who
        calls (MAYDAY_AGENT) and the DID chosen (MAYDAY_DID)."""
        validate_call(extension, number, did)
        variables = [f"MAYDAY_AGENT={extension}", f"MAYDAY_CALL={call_id}"] + ([f"MAYDAY_DID={did}"] if did else [])
        action = {
            "Action": "Originate",
            "Channel": interface_for(extension),
            "Context": "mayday-route",
            "Exten": number,
            "Priority": "1",
            "CallerID": f'"{number}" <{number}>',  # what the agent's phone shows: whom it is calling
            "Variable": ",".join(variables),
            "Timeout": str(RING_SECONDS * 1000),
            "Async": "true",
            "ActionID": f"mayday-{call_id}",
        }
        reply = _as_list(self._act(action, timeout=RING_SECONDS + COMMAND_TIMEOUT))
        last = reply[-1]
        if last.get("Event") != "OriginateResponse":
            return Originated(False, error=f"Asterisk refused: {last.get('Message', 'no reason given')}")
        if last.get("Response") == "Success":
            return Originated(True, call_id=last.get("Uniqueid", ""))
        reason = _int(last.get("Reason"), -1)
        return Originated(False, error=f"{ORIGINATE_REASONS.get(reason, 'the call failed')} (reason {reason})")

    @staticmethod
    def observed_availability(snapshot: Snapshot, extension: str, queues: list[str]) -> Observed | None:
        members = [
            m
            for m in snapshot.members
            if m.extension == extension and m.queue in queues and not (m.paused and m.reason == LOGGED_OUT_REASON)
        ]
        if not members:  # in no queue, or only paused as logged out
            return Observed(AgentMode.LOGGED_OUT, "")
        pauses = {(m.paused, m.reason if m.paused else "") for m in members}
        if len(members) < len(set(queues)) or len(pauses) != 1:
            return None
        paused, reason = pauses.pop()
        return Observed(AgentMode.ON_BREAK, reason) if paused else Observed(AgentMode.AVAILABLE, "")


# OriginateResponse `Reason`: the last control frame the first leg saw (Asterisk's ast_control_frame_type).
ORIGINATE_REASONS = {
    0: "the phone could not be called",
    1: "the phone hung up",
    3: "the phone rang but nobody answered",
    5: "the phone was busy",
    8: "the network was congested",
}


def _safe_name(name: str) -> str:
    """Member names are display text: keep printable characters only, never a line break."""
    return "".join(ch for ch in name if ch.isprintable())[:80]
