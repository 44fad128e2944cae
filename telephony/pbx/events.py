"""PBX events in one vocabulary, whichever PBX sent them.

`asterisk.ami_event()` and `freeswitch.esl_event()` map raw frames onto these;
everything after the listener works only with these classes.
"""

from __future__ import annotations

from dataclasses import dataclass

# AST_DEVICE_* codes as QueueMember/QueueMemberStatus report them in `Status`.
DEVICE_STATES = {
    0: "unknown",
    1: "not_in_use",
    2: "in_use",
    3: "busy",
    4: "invalid",
    5: "unavailable",
    6: "ringing",
    7: "ringing_in_use",
    8: "on_hold",
}
CDR_DISPOSITIONS = {"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"}


@dataclass(frozen=True, slots=True)
class MemberAdded:
    queue: str
    extension: str
    paused: bool
    reason: str
    device_state: str
    penalty: int
    calls_taken: int
    last_call: int


@dataclass(frozen=True, slots=True)
class MemberRemoved:
    queue: str
    extension: str


@dataclass(frozen=True, slots=True)
class MemberStatus:
    queue: str
    extension: str
    device_state: str
    in_call: bool
    paused: bool
    reason: str
    calls_taken: int
    last_call: int


@dataclass(frozen=True, slots=True)
class MemberPaused:
    queue: str
    extension: str
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ContactStatus:
    endpoint: str
    uri: str
    status: str  # Reachable, Unreachable, NonQualified, Removed, Unknown
    rtt_usec: int | None


@dataclass(frozen=True, slots=True)
class CallerJoined:
    queue: str
    call_id: str
    caller_number: str
    caller_name: str
    position: int
    at: float = 0.0  # epoch seconds; 0: when the listener received it


@dataclass(frozen=True, slots=True)
class CallerLeft:
    queue: str
    call_id: str
    position: int
    at: float = 0.0  # epoch seconds; 0: when the listener received it


@dataclass(frozen=True, slots=True)
class CallerAbandoned:
    queue: str
    call_id: str
    position: int
    original_position: int
    hold_time: int
    at: float = 0.0  # epoch seconds; 0: when the listener received it
    reason: str = ""  # the PBX's own word when it gives one (FreeSWITCH's CC-Cancel-Reason), for people


@dataclass(frozen=True, slots=True)
class QueueExit:
    """The caller left the queue unanswered other than by hanging up: sent on by its time limit (`timed_out`),
    a key pressed, the queue empty or full. AMI never says so (it sends QueueCallerAbandon for a timeout too):
    Asterisk's queue_log and mod_callcenter's member-queue-end do."""

    queue: str
    call_id: str
    reason: str  # the PBX's own word (EXITWITHTIMEOUT, EXITWITHKEY, EXITEMPTY, TIMEOUT, EXIT_WITH_KEY…), for people
    timed_out: bool
    wait: int
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class AgentCalled:
    queue: str
    extension: str
    call_id: str
    member_name: str = ""
    leg: str = ""  # the ringing channel's id (Asterisk DestUniqueid), when the PBX gives one
    at: float = 0.0  # epoch seconds; 0: when the listener received it


@dataclass(frozen=True, slots=True)
class AgentConnected:
    queue: str
    extension: str
    call_id: str
    hold_time: int
    ring_time: int
    leg: str = ""  # the ringing channel's id (Asterisk DestUniqueid), when the PBX gives one
    at: float = 0.0  # epoch seconds; 0: when the listener received it


@dataclass(frozen=True, slots=True)
class AgentCompleted:
    queue: str
    extension: str
    call_id: str
    hold_time: int
    talk_time: int
    reason: str  # who ended it: agent, caller, transfer; empty when the PBX does not say (FreeSWITCH)
    at: float = 0.0  # epoch seconds; 0: when the listener received it


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer:
    queue: str
    extension: str
    call_id: str
    ring_time_ms: int
    leg: str = ""  # the ringing channel's id (Asterisk DestUniqueid), when the PBX gives one
    at: float = 0.0  # epoch seconds; 0: when the listener received it


@dataclass(frozen=True, slots=True)
class CdrRecorded:
    """One channel's call detail record: Asterisk's `Cdr` (cdr_manager) or FreeSWITCH's CHANNEL_HANGUP_COMPLETE."""

    call_id: str  # Asterisk UniqueID, FreeSWITCH Unique-ID
    source: str
    destination: str
    destination_context: str
    caller_id: str
    channel: str
    destination_channel: str
    last_application: str
    start: float  # epoch seconds
    answer: float  # 0: never answered
    end: float
    duration: int
    billable_seconds: int
    disposition: str  # one of CDR_DISPOSITIONS
    account_code: str = ""
    hangup_cause: str = ""  # FreeSWITCH's own word (NORMAL_CLEARING, USER_BUSY…); Asterisk's CDR has none
    internal: bool = False  # a leg inside the PBX (the second half of a Local/loopback channel, an agent leg)


@dataclass(frozen=True, slots=True)
class AgentStatusChanged:
    """FreeSWITCH mod_callcenter agent status: Logged Out, Available, Available (On Demand), On Break."""

    extension: str
    status: str
    paused: bool  # On Break


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """FreeSWITCH mod_callcenter agent state: Waiting, Receiving, In a queue call, Idle, Reserved."""

    extension: str
    state: str
    device_state: str
    in_call: bool


@dataclass(frozen=True, slots=True)
class MemberQueueStart:
    queue: str
    call_id: str
    caller_number: str
    caller_name: str
    at: float = 0.0  # epoch seconds; 0: when the listener received it


@dataclass(frozen=True, slots=True)
class MemberQueueEnd:
    """mod_callcenter: an answered caller's queue call is over (CC-Cause Terminated). A caller who left
    unanswered comes as CallerAbandoned or QueueExit."""

    queue: str
    call_id: str
    extension: str
    joined: int
    left: int
    at: float = 0.0  # epoch seconds; 0: when the listener received it


Event = (
    MemberAdded
    | MemberRemoved
    | MemberStatus
    | MemberPaused
    | ContactStatus
    | CallerJoined
    | CallerLeft
    | CallerAbandoned
    | QueueExit
    | AgentCalled
    | AgentConnected
    | AgentCompleted
    | AgentRingNoAnswer
    | CdrRecorded
    | AgentStatusChanged
    | AgentStateChanged
    | MemberQueueStart
    | MemberQueueEnd
)

# The events about one caller in a queue: each carries `at`, the moment it happened.
CALL_EVENTS = frozenset(
    {
        CallerJoined,
        CallerLeft,
        CallerAbandoned,
        QueueExit,
        AgentCalled,
        AgentConnected,
        AgentCompleted,
        AgentRingNoAnswer,
        MemberQueueStart,
        MemberQueueEnd,
    }
)
