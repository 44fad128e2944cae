"""The call-center figures, computed exactly as the README's "Reports" section defines them.

Counts come from one aggregate query over the queue calls of a period (the covering indexes on QueueCall make
it an index range scan); rates and means are derived from those counts in Python, so a total row is the same
arithmetic over summed counts, never an average of averages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import TruncDay, TruncHour, TruncMonth
from django.utils import timezone

from agents.models import Agent, AgentStatusEvent, Availability
from reporting.models import AttemptResult, CallAttempt, Outcome, QueueCall
from reporting.periods import period
from telephony.models import Queue, QueueMembership

# The threshold for calls on queues Mayday does not know (a Queue's own default).
DEFAULT_SL = Queue._meta.get_field("service_level_seconds").default
# A caller "waiting" for longer than this has surely gone: an event was lost. Not counted as waiting now.
STALE_WAIT = timedelta(hours=4)
COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "timed_out",
    "exited",
    "waiting",
    "answered_within",
    "abandoned_within",
    "wait_answered",
    "talk",
    "talked",
)


def _counts(short: int, thresholds: dict[int, int]) -> dict:
    # Each queue's service-level threshold, written into the query: no join to the queues for every call.
    threshold = Case(*(When(queue_id=pk, then=Value(s)) for pk, s in thresholds.items()), default=Value(DEFAULT_SL))
    within = Q(wait_seconds__lte=threshold)
    answered = Q(outcome=Outcome.ANSWERED)
    quick = Q(outcome=Outcome.ABANDONED, wait_seconds__lt=short)
    abandoned = Q(outcome=Outcome.ABANDONED) & (Q(wait_seconds__gte=short) | Q(wait_seconds__isnull=True))
    return {
        "offered": Count("pk"),
        "answered": Count("pk", filter=answered),
        "abandoned": Count("pk", filter=abandoned),
        "short_abandoned": Count("pk", filter=quick),
        "timed_out": Count("pk", filter=Q(outcome=Outcome.TIMED_OUT)),
        "exited": Count("pk", filter=Q(outcome=Outcome.EXITED)),
        "waiting": Count("pk", filter=Q(outcome=Outcome.WAITING)),
        "answered_within": Count("pk", filter=answered & within),
        "abandoned_within": Count("pk", filter=abandoned & within),
        "wait_answered": Sum("wait_seconds", filter=answered),
        "longest_wait": Max("wait_seconds"),
        "talk": Sum("talk_seconds", filter=answered & Q(talk_seconds__isnull=False)),
        "talked": Count("pk", filter=answered & Q(talk_seconds__isnull=False)),
    }


def _ratio(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _mean(total: float, n: int) -> float | None:
    return round(total / n, 1) if n else None


def derived(row: dict, wrap_up: int = 0) -> dict:
    """The figures built on the counts: rates in percent and means in seconds (None where nothing to divide)."""
    handled = row["answered"] + row["abandoned"]
    talk = _mean(row["talk"] or 0, row["talked"])
    return {
        **row,
        "abandon_rate": _ratio(row["abandoned"], handled),
        "service_level": _ratio(row["answered_within"], row["answered"]),
        "service_level_all": _ratio(row["answered_within"] + row["abandoned_within"], handled),
        "asa": _mean(row["wait_answered"] or 0, row["answered"]),
        "average_talk": talk,
        "aht": None if talk is None else round(talk + wrap_up, 1),
    }


def _empty() -> dict:
    return {key: 0 for key in COUNTS} | {"longest_wait": None}


def queue_figures(*, start: datetime, end: datetime, queue_ids: Iterable[int] | None = None) -> list[dict]:
    """One row per queue (every configured queue, calls or not; calls on queues Mayday does not know make one
    row with queue None), for calls that entered in [start, end)."""
    short = settings.MAYDAY_SHORT_ABANDON_SECONDS
    calls = QueueCall.objects.filter(entered_at__gte=start, entered_at__lt=end)
    queues = Queue.objects.all()
    if queue_ids is not None:
        queue_ids = list(queue_ids)
        calls, queues = calls.filter(queue_id__in=queue_ids), queues.filter(pk__in=queue_ids)
    queues = list(queues)
    counts = _counts(short, {q.pk: q.service_level_seconds for q in queues})
    counted = {row.pop("queue_id"): row for row in calls.order_by().values("queue_id").annotate(**counts)}
    rows = []
    for queue in queues:
        rows.append({"queue": queue, **derived(counted.pop(queue.pk, _empty()), queue.wrap_up_seconds)})
    if None in counted:
        rows.append({"queue": None, **derived(counted.pop(None))})
    return rows


def total(rows: list[dict]) -> dict:
    """All queues together: counts summed, figures derived again from the sums."""
    summed = _empty()
    wrap = 0.0
    for row in rows:
        for key in COUNTS:
            summed[key] += row[key] or 0
        if row["longest_wait"] is not None:
            summed["longest_wait"] = max(summed["longest_wait"] or 0, row["longest_wait"])
        wrap += (row["queue"].wrap_up_seconds if row["queue"] else 0) * row["talked"]
    return derived(summed, round(wrap / summed["talked"], 1) if summed["talked"] else 0)


TRUNC = {"hour": TruncHour, "day": TruncDay, "month": TruncMonth}


def queue_buckets(*, start: datetime, end: datetime, by: str, queue_ids: Iterable[int] | None = None) -> list[dict]:
    """Figures per local hour, day or month of [start, end), every bucket present (empty ones as zeros)."""
    tz = timezone.get_current_timezone()
    calls = QueueCall.objects.filter(entered_at__gte=start, entered_at__lt=end)
    queues = Queue.objects.all()
    if queue_ids is not None:
        queue_ids = list(queue_ids)
        calls, queues = calls.filter(queue_id__in=queue_ids), queues.filter(pk__in=queue_ids)
    thresholds = dict(queues.values_list("pk", "service_level_seconds"))
    rows = (
        calls.order_by()
        .annotate(bucket=TRUNC[by]("entered_at", tzinfo=tz))
        .values("bucket")
        .annotate(**_counts(settings.MAYDAY_SHORT_ABANDON_SECONDS, thresholds))
    )
    found = {timezone.localtime(row.pop("bucket"), tz).replace(tzinfo=None): row for row in rows}
    out = []
    for moment in _steps(timezone.localtime(start, tz), timezone.localtime(end, tz), by):
        out.append({"bucket": moment, **derived(found.get(moment.replace(tzinfo=None), _empty()))})
    return out


def _steps(start: datetime, end: datetime, by: str):
    tz = start.tzinfo
    moment = start.replace(tzinfo=None)
    stop = end.replace(tzinfo=None)
    if by == "month":
        moment = moment.replace(day=1, hour=0)
    while moment < stop:
        yield moment.replace(tzinfo=tz)
        if by == "hour":
            moment += timedelta(hours=1)
        elif by == "day":
            moment += timedelta(days=1)
        else:
            moment = (moment.replace(day=28) + timedelta(days=4)).replace(day=1)


def agent_figures(*, start: datetime, end: datetime, agents: QuerySet[Agent] | None = None) -> list[dict]:
    """Per agent: queue calls answered and their talk time, rings not answered, and the time spent available,
    on break and logged out within [start, end) (up to now), from the status history."""
    agents = (agents if agents is not None else Agent.objects.all()).order_by("display_name", "extension")
    before = AgentStatusEvent.objects.filter(agent=OuterRef("pk"), created_at__lt=start).order_by("-created_at", "-pk")
    agents = list(agents.annotate(state_at_start=Subquery(before.values("to_availability")[:1])))
    ids = [a.pk for a in agents]
    answered = {
        row["agent_id"]: row
        for row in QueueCall.objects.filter(
            agent_id__in=ids, entered_at__gte=start, entered_at__lt=end, outcome=Outcome.ANSWERED
        )
        .order_by()
        .values("agent_id")
        .annotate(answered=Count("pk"), talk=Sum("talk_seconds"), talked=Count("talk_seconds"))
    }
    missed = dict(
        CallAttempt.objects.filter(
            agent_id__in=ids, offered_at__gte=start, offered_at__lt=end, result=AttemptResult.NO_ANSWER
        )
        .order_by()
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values_list("agent_id", "n")
    )
    history: dict[int, list[AgentStatusEvent]] = {}
    for e in AgentStatusEvent.objects.filter(agent_id__in=ids, created_at__gte=start, created_at__lt=end).order_by(
        "created_at", "pk"
    ):
        history.setdefault(e.agent_id, []).append(e)
    stop = min(end, timezone.now())
    rows = []
    for agent in agents:
        calls = answered.get(agent.pk, {"answered": 0, "talk": 0, "talked": 0})
        rows.append(
            {
                "agent": agent,
                "answered": calls["answered"],
                "talk": calls["talk"] or 0,
                "average_talk": _mean(calls["talk"] or 0, calls["talked"]),
                "ring_no_answers": missed.get(agent.pk, 0),
                **_time_in(agent, history.get(agent.pk, []), start, stop),
            }
        )
    return rows


def _time_in(agent: Agent, events: list[AgentStatusEvent], start: datetime, stop: datetime) -> dict:
    """Seconds in each availability between start and stop, walking the agent's changes."""
    seconds = {a.value: 0.0 for a in Availability}
    if events:
        state = agent.state_at_start or events[0].from_availability
    else:
        state = agent.state_at_start or agent.availability
    since = max(start, agent.created_at)  # nothing is counted before the agent existed
    for e in events:
        seconds[state] += max((e.created_at - since).total_seconds(), 0)
        state, since = e.to_availability, e.created_at
    seconds[state] += max((stop - since).total_seconds(), 0)
    return {f"{key}_seconds": int(value) for key, value in seconds.items()}


def calls(
    *,
    start: datetime,
    end: datetime,
    queue_ids: Iterable[int] | None = None,
    agent_ids: Iterable[int] | None = None,
    outcome: str | None = None,
) -> QuerySet[QueueCall]:
    rows = QueueCall.objects.filter(entered_at__gte=start, entered_at__lt=end).select_related("queue", "agent", "pbx")
    if queue_ids is not None:
        rows = rows.filter(queue_id__in=list(queue_ids))
    if agent_ids is not None:
        rows = rows.filter(agent_id__in=list(agent_ids))
    if outcome:
        rows = rows.filter(outcome=outcome)
    return rows.order_by("-entered_at", "-pk")


def wallboard(*, queue_ids: Iterable[int] | None = None, now: datetime | None = None) -> list[dict]:
    """Per configured queue, now: callers waiting and the longest wait; today's answered, abandoned and service
    level; its agents available, on break and on a call."""
    now = now or timezone.now()
    today = period("today")
    figures = queue_figures(start=today.start, end=today.end, queue_ids=queue_ids)
    waiting = {
        row["queue_id"]: row
        for row in QueueCall.objects.filter(outcome=Outcome.WAITING, entered_at__gte=now - STALE_WAIT)
        .order_by()
        .values("queue_id")
        .annotate(waiting=Count("pk"), oldest=Min("entered_at"))
    }
    members: dict[int, dict] = {}
    for m in QueueMembership.objects.select_related("agent").filter(
        agent__availability__in=[Availability.AVAILABLE, Availability.ON_BREAK]
    ):
        seen = members.setdefault(m.queue_id, {"available": 0, "on_break": 0, "on_call": 0})
        if m.in_call:
            seen["on_call"] += 1
        elif m.agent.availability == Availability.AVAILABLE:
            seen["available"] += 1
        else:
            seen["on_break"] += 1
    board = []
    for row in figures:
        queue = row["queue"]
        if queue is None:
            continue
        wait = waiting.get(queue.pk)
        board.append(
            {
                "queue": queue,
                "waiting": wait["waiting"] if wait else 0,
                "longest_wait_now": int((now - wait["oldest"]).total_seconds()) if wait else 0,
                "waiting_since": wait["oldest"] if wait else None,  # the longest waiter's entry: pages count on
                "answered": row["answered"],
                "abandoned": row["abandoned"],
                "service_level": row["service_level"],
                **members.get(queue.pk, {"available": 0, "on_break": 0, "on_call": 0}),
            }
        )
    return board
