"""Recording calls from what the PBX says: live events, or its own logs imported later.

Every source speaks the vocabulary of `telephony.pbx.events`, and every event is applied the same way, so a
call told twice (a replay, a reconnect, a queue_log import after the events) ends as one row, corrected
rather than doubled. The PBX's words decide the outcome (see README, "Reports"):

- Asterisk says `QueueCallerAbandon` for a caller who hung up, but also for one sent on by the queue's time
  limit or an empty queue. Events record it as abandoned; the queue_log's EXITWITHTIMEOUT / EXITEMPTY
  (a `QueueExit`) correct it, whichever arrives first.
- Asterisk says `QueueCallerLeave` just before `AgentConnect`: a leave with nothing else reads as exited until
  the connect turns it into answered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction

from agents import live
from agents.models import Agent
from mayday.db import update_rows
from reporting.models import AttemptResult, CallAttempt, Cdr, Outcome, QueueCall, Source
from telephony.models import Queue
from telephony.pbx import events as ev

SAME_ATTEMPT = timedelta(seconds=2)  # one ring told by two sources, whose clocks differ by up to this


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class _Batch:
    """The calls one batch of events touches, loaded once, changed in memory, written once."""

    def __init__(self, pbx_id: int, keys: set[tuple[str, str]], extensions: set[str], source: str) -> None:
        self.pbx_id, self.source = pbx_id, source
        rows = QueueCall.objects.filter(
            pbx_id=pbx_id, queue_name__in={q for q, _ in keys}, call_id__in={c for _, c in keys}
        ).prefetch_related("attempts")
        self.calls = {(c.queue_name, c.call_id): c for c in rows}
        self.attempts = {key: list(call.attempts.all()) for key, call in self.calls.items()}
        self.queues = {q.name: q for q in Queue.objects.filter(pbx_id=pbx_id, name__in={q for q, _ in keys})}
        self.agents = {a.extension: a for a in Agent.objects.filter(pbx_id=pbx_id, extension__in=extensions)}
        self.changed: set[tuple[str, str]] = set()

    def call(self, queue: str, call_id: str, entered: float) -> QueueCall:
        key = (queue, call_id)
        call = self.calls.get(key)
        if call is None:
            q = self.queues.get(queue)
            call = QueueCall(
                pbx_id=self.pbx_id,
                queue=q,
                queue_name=queue,
                call_id=call_id,
                entered_at=_time(entered),
                source=self.source,
            )
            self.calls[key], self.attempts[key] = call, []
        self.changed.add(key)
        return call

    def attempt(self, key, extension: str, offered: float, leg: str, *, result: str | None = None, opens=False):
        """The attempt to this agent that this event tells of. The same ringing channel, else (for a source
        without channel ids) the one offered about then; else, unless the event `opens` a ring, the one still
        ringing; else a new one."""
        at = _time(offered)
        mine = [a for a in self.attempts[key] if a.agent_extension == extension]
        for a in mine:
            if leg and a.leg_id == leg:
                return a
        for a in mine:
            if (result is not None and a.result == result) or (
                not (leg and a.leg_id) and abs(a.offered_at - at) <= SAME_ATTEMPT
            ):
                a.leg_id = a.leg_id or leg
                return a
        if not opens:
            for a in reversed(mine):
                if a.result == AttemptResult.RINGING and not (leg and a.leg_id):
                    a.leg_id = a.leg_id or leg
                    return a
        attempt = CallAttempt(agent=self.agents.get(extension), agent_extension=extension, leg_id=leg, offered_at=at)
        self.attempts[key].append(attempt)
        return attempt

    def set_agent(self, call: QueueCall, extension: str) -> None:
        call.agent_extension = extension
        call.agent = self.agents.get(extension)

    def save(self) -> set[int]:
        """Write what changed; returns the queues whose figures moved."""
        for key in self.changed:
            call = self.calls[key]
            call.ring_no_answers = sum(a.result == AttemptResult.NO_ANSWER for a in self.attempts[key])
        new = [self.calls[k] for k in self.changed if self.calls[k].pk is None]
        old = [self.calls[k] for k in self.changed if self.calls[k].pk is not None]
        with transaction.atomic():
            QueueCall.objects.bulk_create(new)
            if old:
                update_rows(old, CALL_FIELDS)
            attempts = []
            for key in self.changed:
                for a in self.attempts[key]:
                    a.call = self.calls[key]
                    attempts.append(a)
            CallAttempt.objects.bulk_create([a for a in attempts if a.pk is None])
            if any(a.pk for a in attempts):
                update_rows([a for a in attempts if a.pk], ["agent", "leg_id", "ring_ms", "result"])
        return {self.calls[k].queue_id for k in self.changed if self.calls[k].queue_id}


CALL_FIELDS = [
    "queue",
    "caller_number",
    "caller_name",
    "entered_at",
    "position",
    "outcome",
    "exit_reason",
    "wait_seconds",
    "answered_at",
    "agent",
    "agent_extension",
    "ring_seconds",
    "talk_seconds",
    "ended_at",
    "hangup_by",
    "ring_no_answers",
    "updated_at",
]


def _entered(e) -> float:
    """When the caller entered, as far as this event tells (for a call first heard of mid-way)."""
    t = type(e)
    if t is ev.AgentConnected or t is ev.CallerAbandoned:
        return e.at - e.hold_time
    if t is ev.AgentCompleted:
        return e.at - e.talk_time - e.hold_time
    if t is ev.QueueExit:
        return e.at - e.wait
    if t is ev.MemberQueueEnd and e.joined:
        return e.joined
    return e.at


def _not_over(call: QueueCall) -> bool:
    return call.outcome in (Outcome.WAITING, Outcome.EXITED)


def _apply(batch: _Batch, e) -> None:
    key = (e.queue, e.call_id)
    call = batch.call(e.queue, e.call_id, _entered(e))
    t = type(e)
    if t is ev.CallerJoined or t is ev.MemberQueueStart:
        call.entered_at = _time(e.at)
        call.caller_number = call.caller_number or e.caller_number
        call.caller_name = call.caller_name or e.caller_name
        if t is ev.CallerJoined and e.position:
            call.position = e.position
    elif t is ev.AgentCalled:
        batch.attempt(key, e.extension, e.at, e.leg, opens=True)
    elif t is ev.AgentRingNoAnswer:
        offered = e.at - e.ring_time_ms / 1000
        attempt = batch.attempt(key, e.extension, offered, e.leg)
        if attempt.result != AttemptResult.ANSWERED:
            attempt.result, attempt.ring_ms = AttemptResult.NO_ANSWER, e.ring_time_ms
    elif t is ev.AgentConnected:
        attempt = batch.attempt(key, e.extension, e.at - e.ring_time, e.leg, result=AttemptResult.ANSWERED)
        attempt.result, attempt.ring_ms = AttemptResult.ANSWERED, e.ring_time * 1000
        call.outcome, call.exit_reason = Outcome.ANSWERED, ""
        call.answered_at = call.answered_at or _time(e.at)
        call.wait_seconds, call.ring_seconds = e.hold_time, e.ring_time
        if call.talk_seconds is None:  # on the phone now: a leave just before the connect did not end it
            call.ended_at = None
        batch.set_agent(call, e.extension)
    elif t is ev.AgentCompleted:
        call.outcome, call.exit_reason = Outcome.ANSWERED, ""
        call.wait_seconds, call.talk_seconds = e.hold_time, e.talk_time
        call.answered_at = call.answered_at or _time(e.at - e.talk_time)
        call.ended_at = _time(e.at)
        call.hangup_by = e.reason
        if not call.agent_extension:
            batch.set_agent(call, e.extension)
    elif t is ev.CallerAbandoned:
        if _not_over(call):
            call.outcome, call.exit_reason = Outcome.ABANDONED, e.reason
            call.wait_seconds, call.ended_at = e.hold_time, _time(e.at)
    elif t is ev.QueueExit:
        if call.outcome != Outcome.ANSWERED:
            call.outcome = Outcome.TIMED_OUT if e.timed_out else Outcome.EXITED
            call.exit_reason, call.wait_seconds, call.ended_at = e.reason, e.wait, _time(e.at)
    elif t is ev.CallerLeft:
        if call.outcome == Outcome.WAITING:
            call.outcome, call.ended_at = Outcome.EXITED, _time(e.at)
            call.wait_seconds = max(int(e.at - call.entered_at.timestamp()), 0)
    elif t is ev.MemberQueueEnd:  # answered, and the call is over
        if call.outcome != Outcome.ANSWERED:
            call.outcome = Outcome.ANSWERED
            batch.set_agent(call, e.extension)
        call.ended_at = call.ended_at or _time(e.left or e.at)


def calls_record(*, pbx_id: int, events: list, source: str = Source.EVENTS) -> int:
    """Record the queue calls and CDRs these events tell of; returns how many events were about calls."""
    calls = [e for e in events if type(e) in ev.CALL_EVENTS and e.queue and e.call_id]
    cdrs = [e for e in events if type(e) is ev.CdrRecorded and e.call_id]
    if calls:
        for attempt in range(2):
            try:
                changed = _record(pbx_id, calls, source)
                break
            except IntegrityError:  # another writer created one of these calls meanwhile: read it and apply again
                if attempt:
                    raise
        live.queues_changed(queue_ids=changed)
    if cdrs:
        cdrs_record(pbx_id=pbx_id, cdrs=cdrs)
    return len(calls) + len(cdrs)


def _record(pbx_id: int, calls: list, source: str) -> set[int]:
    keys = {(e.queue, e.call_id) for e in calls}
    extensions = {e.extension for e in calls if getattr(e, "extension", "")}
    batch = _Batch(pbx_id, keys, extensions, source)
    for e in calls:
        _apply(batch, e)
    return batch.save()


# CDRs: when one caller's channel has several (a ringall's other phones, each ring of a retry), the call is the
# best of them, and the rest are legs. Best: answered first, then busy, no answer, congestion, failed; then latest.
RANK = {"ANSWERED": 4, "BUSY": 3, "NO ANSWER": 2, "CONGESTION": 1, "FAILED": 0}


def cdrs_record(*, pbx_id: int, cdrs: list[ev.CdrRecorded]) -> None:
    rows = [
        Cdr(
            pbx_id=pbx_id,
            call_id=e.call_id,
            source=e.source[:80],
            destination=e.destination[:80],
            destination_context=e.destination_context[:80],
            caller_id=e.caller_id[:160],
            channel=e.channel[:128],
            destination_channel=e.destination_channel[:128],
            last_application=e.last_application[:80],
            start=_time(e.start or e.end),
            answer=_time(e.answer) if e.answer else None,
            end=_time(e.end) if e.end else None,
            duration=max(e.duration, 0),
            billable_seconds=max(e.billable_seconds, 0),
            disposition=e.disposition,
            hangup_cause=e.hangup_cause[:40],
            account_code=e.account_code[:80],
            internal=e.internal,
        )
        for e in cdrs
    ]
    with transaction.atomic():
        Cdr.objects.bulk_create(rows, ignore_conflicts=True)
        siblings: dict[str, list[Cdr]] = {}
        for row in Cdr.objects.filter(pbx_id=pbx_id, call_id__in={r.call_id for r in rows}, internal=False):
            siblings.setdefault(row.call_id, []).append(row)
        legs = []
        for group in siblings.values():
            best = max(group, key=lambda r: (RANK[r.disposition], r.start, r.pk))
            legs += [r for r in group if r is not best]
        for r in legs:
            r.internal = True
        update_rows(legs, ["internal"])
