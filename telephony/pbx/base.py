"""What every PBX backend offers, the snapshot it returns, and the one error type it raises.

Backends are transports: they turn these calls into AMI actions or ESL
commands and the replies into results. Everything they write is checked by
`telephony.validators` first; a value that fails never reaches the socket.
"""

from __future__ import annotations

import abc
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

from django.core.exceptions import ValidationError

from telephony import validators


class AgentMode(StrEnum):
    """What Mayday asks a PBX to make of an agent (agents.models.Availability takes its values from here)."""

    AVAILABLE = "available"
    ON_BREAK = "on_break"
    LOGGED_OUT = "logged_out"


# How long one command may take before the PBX counts as unreachable.
COMMAND_TIMEOUT = 5.0


class PbxError(Exception):
    """A PBX command failed. `retryable` says whether trying again later may work
    (the PBX is down, slow or restarting) or not (bad credentials, unknown agent)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def checked(check, value: str) -> str:
    """Validate one value before it is written; bad input is a permanent error."""
    try:
        return check(value)
    except ValidationError as exc:
        raise PbxError(exc.messages[0], retryable=False) from exc


@dataclass(frozen=True)
class MemberState:
    """One agent in one queue as the PBX sees it."""

    queue: str
    extension: str
    paused: bool = False
    reason: str = ""
    device_state: str = ""
    in_call: bool = False
    calls_taken: int = 0
    last_call: int = 0  # epoch seconds, 0 = never
    penalty: int = 0


@dataclass(frozen=True)
class ContactState:
    """A registered SIP contact (PJSIP) of an endpoint."""

    endpoint: str
    uri: str
    status: str
    rtt_usec: int | None = None


# PJSIP contact statuses that mean the phone answers (Avail is how Asterisk before 13.x spelled it).
REACHABLE = {"Reachable", "Avail"}


def contact_address(uri: str) -> tuple[str, int | None, str]:
    """(ip, port, transport) of a SIP contact URI such as `sip:1005@10.0.0.5:5060;transport=tcp`."""
    if not uri:
        return "", None, ""
    scheme, _, rest = uri.partition(":")
    hostport, *params = rest.rpartition("@")[2].split(";")
    transport = "tls" if scheme == "sips" else "udp"
    for param in params:
        key, _, value = param.partition("=")
        if key.lower() == "transport" and value:
            transport = value.lower()
    if hostport.startswith("["):  # IPv6: [::1]:5060
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = hostport.partition(":")
    return host, int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else None, transport


@dataclass
class Snapshot:
    """Everything the PBX says about queues, members and phones at one moment."""

    queues: list[str] = field(default_factory=list)
    members: list[MemberState] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    contacts: list[ContactState] = field(default_factory=list)
    # FreeSWITCH only: extension -> (status, state) from `callcenter_config agent list`.
    agents: dict[str, tuple[str, str]] = field(default_factory=dict)
    has_sip: bool = False


@dataclass(frozen=True)
class Originated:
    """How a click-to-call's first leg ended: the agent answered (`call_id` is the PBX's id of the call), or not
    (`error` in the PBX's words)."""

    answered: bool
    call_id: str = ""
    error: str = ""


# How long the agent's phone rings for a click-to-call before the PBX gives up on it.
RING_SECONDS = 30


class PbxBackend(abc.ABC):
    """One PBX connection, for the length of a `with` block, or kept by its thread between commands (`command_backend`).

    `calls`: the connection also hears the call events a click-to-call's result comes in (AMI `call` class).
    """

    def __init__(self, pbx, *, calls: bool = False) -> None:
        self.pbx = pbx
        self.calls = calls

    def __enter__(self) -> PbxBackend:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abc.abstractmethod
    def open(self) -> None:
        """Connect and log in; PbxError on failure."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def reusable(self) -> bool:
        """Still open, and nothing arrived since the last reply: a command connection is sent nothing unasked,
        so anything to read is a PBX that closed it (restarted, shut down) or said goodbye."""

    @abc.abstractmethod
    def ping(self) -> None: ...

    @abc.abstractmethod
    def snapshot(self) -> Snapshot: ...

    @abc.abstractmethod
    def member_add(self, *, queue: str, extension: str, name: str, penalty: int, paused: bool, reason: str) -> None: ...

    @abc.abstractmethod
    def member_remove(self, *, queue: str, extension: str) -> None: ...

    @abc.abstractmethod
    def member_pause(self, *, extension: str, paused: bool, reason: str = "", queue: str | None = None) -> None:
        """Pause or unpause a member in one queue, or in every queue when `queue` is None."""

    @abc.abstractmethod
    def agent_set_status(self, *, extension: str, status: str) -> None:
        """FreeSWITCH agent status; Asterisk has no such thing and maps it onto pauses."""

    @abc.abstractmethod
    def set_availability(
        self, *, extension: str, name: str, availability: str, reason: str, queues: list[Seat]
    ) -> None:
        """Make the PBX carry out an agent's availability (an AgentMode) in these queues."""

    @abc.abstractmethod
    def routing_read(self) -> dict[str, str]:
        """Every routing entry the PBX holds (telephony.pbx.routing), by Mayday's key name."""

    @abc.abstractmethod
    def routing_put(self, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def routing_delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def originate(self, *, call_id: str, extension: str, number: str, did: str) -> Originated:
        """Ring the agent's phone; once answered, dial `number` through the outbound routing (presenting `did`,
        or what the routing chooses when empty). Waits for the first leg's outcome, up to RING_SECONDS and a
        margin. Never sent twice: a connection lost after sending is an error, not a retry."""

    @staticmethod
    @abc.abstractmethod
    def observed_availability(snapshot: Snapshot, extension: str, queues: list[str]) -> Observed | None:
        """The availability the snapshot shows for this agent, or None when it matches none (drift)."""


@dataclass(frozen=True)
class Seat:
    """A queue an agent belongs to, as the backend needs it."""

    queue: str
    penalty: int = 0
    pause_on_logout: bool = False  # logged out = paused with LOGGED_OUT_REASON rather than out of the queue


# The pause reason of a member who is logged out but stays in the queue (static members, or by choice).
LOGGED_OUT_REASON = "Logged Out"


@dataclass(frozen=True)
class Observed:
    availability: str
    reason: str | None  # None: this PBX does not keep pause reasons


def validate_member(queue: str | None, extension: str, reason: str = "") -> None:
    if queue is not None:
        checked(validators.validate_name, queue)
    checked(validators.validate_extension, extension)
    if reason:
        checked(validators.validate_reason, reason)


_REGISTRY: dict[str, type[PbxBackend]] = {}


def register(kind: str):
    def decorator(cls: type[PbxBackend]) -> type[PbxBackend]:
        _REGISTRY[kind] = cls
        return cls

    return decorator


def backend_class(kind: str) -> type[PbxBackend]:
    """The backend for a PBX kind (imported lazily: each pulls in its own library)."""
    from telephony.pbx import asterisk, freeswitch  # noqa: F401  (registers the backends)

    return _REGISTRY[kind]


def backend_for(pbx, *, calls: bool = False) -> PbxBackend:
    return backend_class(pbx.kind)(pbx, calls=calls)


def quiet(sock) -> bool:
    """Nothing to read on this socket now: no data, no close from the other end."""
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    return not poll.poll(0)


# A kept connection idle this long is closed (at most twice this after its last command: see `close_kept`), and
# never used again: a firewall or NAT on the way may have forgotten it without a word, and a command sent into it
# would fail only at its timeout.
KEEP_IDLE_SECONDS = 30.0


class _Kept(threading.local):
    """Whether this thread keeps its command connections, and those it keeps: PBX id -> (backend, the settings it
    was opened with, when last used)."""

    def __init__(self) -> None:
        self.on, self.backends = False, {}


_KEPT = _Kept()


def keep_connections() -> None:
    """From now on this thread keeps its command connections between commands (a lane of inline commands does).
    It then calls `close_kept` every KEEP_IDLE_SECONDS, so that none stays open at a PBX left alone."""
    _KEPT.on = True


def close_kept(idle: float = 0.0) -> None:
    """Close this thread's kept connections that are unused for `idle` seconds, or that the PBX has closed."""
    now = time.monotonic()
    for pbx_id, (backend, _, used) in list(_KEPT.backends.items()):  # a PBX or two: a poll(2) each
        if now - used >= idle or not backend.reusable():
            del _KEPT.backends[pbx_id]
            backend.close()


@contextmanager
def command_backend(pbx) -> Iterator[PbxBackend]:
    """A connection for commands to `pbx`. On a thread that keeps its connections, the one it kept, opened once:
    a command costs its round trips, not a login and a logoff as well. A fresh connection replaces it when the
    PBX's address or credentials changed, when it sat idle KEEP_IDLE_SECONDS, when it is not `reusable` (the PBX
    restarted meanwhile), and after a command on it raised (its state is unknown). Elsewhere, one for the block."""
    if not _KEPT.on:
        with backend_for(pbx) as backend:
            yield backend
        return
    close_kept(KEEP_IDLE_SECONDS)
    opened_with = (pbx.kind, pbx.host, pbx.port, pbx.username, pbx.secret)
    backend, settings, _ = _KEPT.backends.pop(pbx.pk, (None, None, 0))
    if backend is not None and settings != opened_with:
        backend.close()
        backend = None
    if backend is None:
        backend = backend_for(pbx)
        backend.open()
    backend.pbx = pbx  # what commands read as they go (a FreeSWITCH domain, agent settings): as it is now
    try:
        yield backend
    except BaseException:
        backend.close()
        raise
    _KEPT.backends[pbx.pk] = (backend, opened_with, time.monotonic())


def validate_routing(key: str, value: str | None = None) -> None:
    checked(validators.validate_routing, key)
    if value is not None:
        checked(validators.validate_routing, value)


def validate_call(extension: str, number: str, did: str) -> None:
    checked(validators.validate_extension, extension)
    checked(validators.validate_number, number)
    if did:
        checked(validators.validate_did, did)
