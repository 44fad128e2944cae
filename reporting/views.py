"""The supervisors' report page and wallboard; the figures come from reporting.selectors."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone

from reporting.charts import calls_chart, service_level_chart, shown
from reporting.periods import Period, parse_period, period
from reporting.selectors import agent_figures, queue_buckets, queue_figures, total
from reporting.wallboard import PERMISSION, wallboard_queues
from telephony.models import Queue

PERIOD_CHOICES = [
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("week", "This week"),
    ("month", "This month"),
    ("custom", "Custom dates"),
]
BY = {"hour": "by hour", "day": "by day", "month": "by month"}


def _refused(request: HttpRequest) -> HttpResponse | None:
    if request.user.has_perm(PERMISSION):
        return None
    return render(request, "reporting/not_a_supervisor.html", status=403)


def _chosen(params: QueryDict, queues: list[Queue]) -> tuple[Period, Queue | None]:
    """The period and queue asked for; ValueError (PeriodError) says what is wrong. The form sends its dates
    whatever period is chosen: they count only with Custom dates."""
    if params.get("period") not in (None, "", "custom"):
        params = params.copy()
        params.pop("from", None)
        params.pop("to", None)
    chosen = parse_period(params)
    raw = params.get("queue") or ""
    if not raw:
        return chosen, None
    queue = next((q for q in queues if str(q.pk) == raw), None)
    if queue is None:
        raise ValueError(f"Unknown queue {raw[:20]!r}: choose one from the list.")
    return chosen, queue


def _month_around(day: date) -> Period:
    """The month `day` is in, up to today when it is this month."""
    first = day.replace(day=1)
    end = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return period("custom", first=first, last=max(min(end, timezone.localdate()), day))


def _month_adds(month: Period, chosen: Period) -> bool:
    """Whether the month by day shows more than the period's own chart: not when the period covers it by day
    already, nor for a month of one day so far."""
    covered = chosen.bucket == "day" and chosen.first <= month.first and chosen.last >= month.last
    return month.last > month.first and not covered


def _query(chosen: Period, queue: Queue | None = None) -> str:
    """The page's period (and queue) as URL parameters, for the CSV links."""
    params: dict[str, str | int] = {"period": chosen.name}
    if chosen.name == "custom":
        params |= {"from": chosen.first.isoformat(), "to": chosen.last.isoformat()}
    if queue is not None:
        params["queue"] = queue.pk
    return urlencode(params)


def _charts(chosen: Period, queue_ids: list[int] | None) -> list:
    buckets = queue_buckets(start=chosen.start, end=chosen.end, by=chosen.bucket, queue_ids=queue_ids)
    by = BY[chosen.bucket]
    charts = [
        calls_chart(buckets, by=chosen.bucket, title=f"Calls {by}, {chosen}"),
        service_level_chart(buckets, by=chosen.bucket, title=f"Service level {by}, {chosen}"),
    ]
    month = _month_around(chosen.last)
    if _month_adds(month, chosen):
        days = queue_buckets(start=month.start, end=month.end, by="day", queue_ids=queue_ids)
        charts.append(calls_chart(days, by="day", title=f"Calls by day, {month.first:%B %Y}"))
    return charts


@login_required
def reports(request: HttpRequest) -> HttpResponse:
    """Queue and agent figures for a period, with charts; bad parameters get the page with the reason (400)."""
    if refused := _refused(request):
        return refused
    queues = list(Queue.objects.all())
    context = {
        "queues": queues,
        "period_choices": PERIOD_CHOICES,
        "time_zone": settings.TIME_ZONE,
        "short_abandon": settings.MAYDAY_SHORT_ABANDON_SECONDS,
    }
    try:
        chosen, queue = _chosen(request.GET, queues)
    except ValueError as exc:
        form = {key: request.GET.get(key, "") for key in ("period", "from", "to", "queue")}
        return render(request, "reporting/reports.html", {**context, "error": str(exc), "form": form}, status=400)
    ids = None if queue is None else [queue.pk]
    rows = queue_figures(start=chosen.start, end=chosen.end, queue_ids=ids)
    form = {
        "period": chosen.name,
        "from": chosen.first.isoformat(),
        "to": chosen.last.isoformat(),
        "queue": str(queue.pk) if queue else "",
    }
    return render(
        request,
        "reporting/reports.html",
        {
            **context,
            "form": form,
            "period": chosen,
            "queue": queue,
            "query": _query(chosen, queue),
            "period_query": _query(chosen),
            "rows": [shown(row) for row in rows],
            "total": shown(total(rows)),
            "agents": [shown(row) for row in agent_figures(start=chosen.start, end=chosen.end)],
            "charts": _charts(chosen, ids),
        },
    )


@login_required
def wallboard(request: HttpRequest) -> HttpResponse:
    """Every queue on one big screen; scripts keep it live from /ws/wallboard/."""
    if refused := _refused(request):
        return refused
    return render(request, "reporting/wallboard.html", {"queues": wallboard_queues(), "time_zone": settings.TIME_ZONE})
