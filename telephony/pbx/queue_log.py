"""Asterisk's queue_log, read into the events vocabulary: `epoch|callid|queue|agent|EVENT|data1|data2…`.

The agent field is the member's name as the queue knows it (MemberName, else its interface); the caller
maps it to an extension. Lines that carry no call (ADDMEMBER, PAUSE, QUEUESTART…) and lines that do not
parse are skipped: a log is read to the end whatever it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from telephony.pbx import events as ev


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _line(at: float, call_id: str, queue: str, agent: str, verb: str, d: list[str]) -> ev.Event | None:
    d = d + [""] * 4
    if verb == "ENTERQUEUE":  # url|callerid[|position]
        return ev.CallerJoined(queue, call_id, d[1], "", _int(d[2]), at=at)
    if verb == "CONNECT":  # holdtime|bridged channel uniqueid|ringtime
        return ev.AgentConnected(queue, agent, call_id, _int(d[0]), _int(d[2]), leg=d[1], at=at)
    if verb in ("COMPLETEAGENT", "COMPLETECALLER"):  # holdtime|calltime|origposition
        who = "agent" if verb == "COMPLETEAGENT" else "caller"
        return ev.AgentCompleted(queue, agent, call_id, _int(d[0]), _int(d[1]), who, at=at)
    if verb in ("TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"):  # extension|context|holdtime|calltime|origposition
        return ev.AgentCompleted(queue, agent, call_id, _int(d[2]), _int(d[3]), "transfer", at=at)
    if verb == "ABANDON":  # position|origposition|waittime
        return ev.CallerAbandoned(queue, call_id, _int(d[0]), _int(d[1]), _int(d[2]), at=at)
    if verb == "EXITWITHKEY":  # key|position|origposition|waittime
        return ev.QueueExit(queue, call_id, verb, False, _int(d[3]), at=at)
    if verb in ("EXITWITHTIMEOUT", "EXITEMPTY"):  # position|origposition|waittime
        return ev.QueueExit(queue, call_id, verb, verb == "EXITWITHTIMEOUT", _int(d[2]), at=at)
    if verb == "RINGNOANSWER":  # ringtime in ms
        return ev.AgentRingNoAnswer(queue, agent, call_id, _int(d[0]), at=at)
    return None


def queue_log_events(lines: Iterable[str], extension_of: Callable[[str], str]) -> Iterator[ev.Event]:
    """The call events of these queue_log lines, in order; `extension_of` maps the agent field to an extension."""
    for raw in lines:
        fields = raw.rstrip("\r\n").split("|")
        if len(fields) < 5 or not fields[0].isdigit() or fields[1] in ("NONE", "MANAGER", "CLI", "REALTIME", ""):
            continue
        at, call_id, queue, agent, verb = int(fields[0]), fields[1], fields[2], fields[3], fields[4]
        event = _line(at, call_id, queue, extension_of(agent) if agent != "NONE" else "", verb, fields[5:])
        if event is not None:
            yield event
