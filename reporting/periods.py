"""Report periods in the call center's local time (MAYDAY_TIME_ZONE); the database keeps UTC.

A local day runs from local midnight to local midnight, so a call at 00:30 local is that day's even when it is
the day before in UTC. "This week" starts on MAYDAY_WEEK_STARTS but never before the first of the month, so
today ⊆ this week ⊆ this month always holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

PERIODS = ("today", "yesterday", "week", "month", "custom")
BUCKETS = ("hour", "day", "month")
MAX_DAYS = 366


class PeriodError(ValueError):
    """A period that cannot be read; the message says why, for the user."""


@dataclass(frozen=True)
class Period:
    name: str
    first: date  # first local day
    last: date  # last local day (inclusive)

    @property
    def start(self) -> datetime:
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        """Exclusive: the midnight after the last day."""
        return local_midnight(self.last + timedelta(days=1))

    @property
    def bucket(self) -> str:
        """The chart buckets that suit the period: hours for one day, days up to two months, else months."""
        days = (self.last - self.first).days + 1
        return "hour" if days == 1 else "day" if days <= 62 else "month"

    def __str__(self) -> str:
        if self.first == self.last:
            return f"{self.first:%a %d %b %Y}"
        return f"{self.first:%d %b %Y} to {self.last:%d %b %Y}"


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def week_start(today: date) -> date:
    start = today - timedelta(days=(today.weekday() - settings.WEEKDAYS.index(settings.MAYDAY_WEEK_STARTS)) % 7)
    return max(start, today.replace(day=1))


def period(name: str = "today", *, first: date | None = None, last: date | None = None, today: date | None = None):
    """The named period around `today` (local), or the custom days `first`..`last`."""
    today = today or timezone.localdate()
    if name == "today":
        return Period(name, today, today)
    if name == "yesterday":
        day = today - timedelta(days=1)
        return Period(name, day, day)
    if name == "week":
        return Period(name, week_start(today), today)
    if name == "month":
        return Period(name, today.replace(day=1), today)
    if name == "custom":
        if first is None or last is None:
            raise PeriodError("A custom period needs both from and to (dates as YYYY-MM-DD).")
        if last < first:
            raise PeriodError("The period ends before it starts: to must be on or after from.")
        if (last - first).days >= MAX_DAYS:
            raise PeriodError(f"A period covers at most {MAX_DAYS} days.")
        return Period(name, first, last)
    raise PeriodError(f"Unknown period {name!r}: use one of {', '.join(PERIODS)}.")


def parse_period(params) -> Period:
    """A period from request parameters: `period` (default today, or custom when from/to are given), `from`, `to`."""
    days = {}
    for key in ("from", "to"):
        raw = params.get(key) or ""
        if raw:
            try:
                days[key] = date.fromisoformat(raw)
            except ValueError:
                raise PeriodError(f"{key} must be a date as YYYY-MM-DD, not {raw[:20]!r}.") from None
    name = params.get("period") or ("custom" if days else "today")
    if days and name != "custom":
        raise PeriodError("from and to go with period=custom (or no period).")
    return period(name, first=days.get("from"), last=days.get("to"))
