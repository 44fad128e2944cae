"""The figures, as the README defines them, on calls whose answers are known: Asterisk's own counters for the
recorded calls, and calls placed on either side of local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from agents.models import AgentStatusEvent, Availability, StatusSource
from reporting.models import AttemptResult, CallAttempt, Outcome, QueueCall
from reporting.periods import PeriodError, parse_period, period, week_start
from reporting.selectors import agent_figures, queue_buckets, queue_figures, total, wallboard
from tests.factories import AgentFactory, PbxServerFactory, QueueFactory
from tests.reporting.test_recording import QUEUE_LOG, asterisk, replay  # noqa: F401  (fixture)

RECORDED = period("custom", first=date(2026, 11, 21), last=date(2026, 11, 21))


def figures(queue, p=RECORDED):
    (row,) = queue_figures(start=p.start, end=p.end, queue_ids=[queue.pk])
    return row


def test_recorded_calls_count_as_asterisk_counts_them(asterisk):  # noqa: F811
    """`queue show support` after these four calls, with servicelevel=10, reads
    `C:2, A:2, SL:100.0%, SL2:75.0% within 10s`: both answered within 10 s; of the abandons, the 3 s one
    counts within (SL2 = (2 + 1) / (2 + 2))."""
    pbx, queue = asterisk
    replay(pbx)
    row = figures(queue)
    assert (row["offered"], row["answered"], row["abandoned"], row["timed_out"], row["exited"]) == (4, 2, 2, 0, 0)
    assert (row["service_level"], row["service_level_all"], row["abandon_rate"]) == (100.0, 75.0, 50.0)
    assert (row["asa"], row["longest_wait"], row["average_talk"], row["aht"]) == (1.0, 15, 3.5, 3.5)


def test_the_whole_queue_log_counts_as_asterisk_counts_it(asterisk):  # noqa: F811
    """All six calls of queue_log.sample: C:4, A:2; SL 4/4; SL2 (4 + 1) / 6; talk 3, 2, 3, 4 s."""
    _, queue = asterisk
    queue.wrap_up_seconds = 5
    queue.save()
    call_command("import_queue_log", str(QUEUE_LOG), pbx="ast")
    row = figures(queue)
    assert (row["offered"], row["answered"], row["abandoned"]) == (6, 4, 2)
    assert (row["service_level"], row["service_level_all"]) == (100.0, 83.3)
    assert (row["asa"], row["average_talk"], row["aht"]) == (1.0, 3.0, 8.0)  # AHT adds the queue's wrap-up


def test_short_abandons_are_shown_apart_and_left_out_of_the_rate(asterisk, settings):  # noqa: F811
    pbx, queue = asterisk
    replay(pbx)
    settings.MAYDAY_SHORT_ABANDON_SECONDS = 5
    row = figures(queue)
    assert (row["offered"], row["answered"], row["abandoned"], row["short_abandoned"]) == (4, 2, 1, 1)
    assert (row["abandon_rate"], row["service_level_all"]) == (33.3, 66.7)  # 1 / (2 + 1); (2 + 0) / 3


def test_the_service_level_follows_the_queue_setting(asterisk):  # noqa: F811
    pbx, queue = asterisk
    replay(pbx)
    queue.service_level_seconds = 0  # Asterisk's default: nothing is answered "within 0 s" after a 1 s wait
    queue.save()
    row = figures(queue)
    assert (row["service_level"], row["service_level_all"]) == (0.0, 0.0)


def test_total_is_derived_from_summed_counts_not_averaged(db):
    pbx = PbxServerFactory()
    big, small = QueueFactory(pbx=pbx, name="big"), QueueFactory(pbx=pbx, name="small")
    at = datetime(2026, 11, 21, 9, tzinfo=UTC)
    for i in range(9):
        QueueCall.objects.create(
            pbx=pbx,
            queue=big,
            queue_name="big",
            call_id=f"b{i}",
            entered_at=at,
            outcome=Outcome.ANSWERED,
            wait_seconds=5,
        )
    QueueCall.objects.create(
        pbx=pbx, queue=small, queue_name="small", call_id="s", entered_at=at, outcome=Outcome.ABANDONED, wait_seconds=40
    )
    QueueCall.objects.create(pbx=pbx, queue_name="unknown", call_id="u", entered_at=at, outcome=Outcome.EXITED)
    rows = queue_figures(start=RECORDED.start, end=RECORDED.end)
    assert [(r["queue"] and r["queue"].name, r["offered"]) for r in rows] == [("big", 9), ("small", 1), (None, 1)]
    everything = total(rows)
    assert (everything["offered"], everything["abandon_rate"], everything["asa"]) == (11, 10.0, 5.0)
    assert everything["longest_wait"] == 40


# ---- local time -------------------------------------------------------------------------------------


def _call(pbx, queue, n, at):
    return QueueCall.objects.create(
        pbx=pbx, queue=queue, queue_name=queue.name, call_id=f"c{n}", entered_at=at, outcome=Outcome.ANSWERED
    )


@pytest.fixture
def midnight_calls(db, settings):
    """Nairobi is UTC+3: 20:59 UTC is 23:59 the same day, 21:00 and 23:59 UTC are 00:00 and 02:59 the next."""
    assert settings.TIME_ZONE == "Africa/Nairobi"
    pbx = PbxServerFactory()
    queue = QueueFactory(pbx=pbx, name="support")
    for n, hhmm in enumerate(["20:59", "21:00", "23:59"]):
        hour, minute = map(int, hhmm.split(":"))
        _call(pbx, queue, n, datetime(2026, 11, 30, hour, minute, tzinfo=UTC))
    return queue


def test_calls_after_local_midnight_belong_to_the_next_local_day(midnight_calls):
    nov30 = period("today", today=date(2026, 11, 30))
    dec1 = period("today", today=date(2026, 12, 1))
    assert figures(midnight_calls, nov30)["offered"] == 1
    assert figures(midnight_calls, dec1)["offered"] == 2
    by_day = queue_buckets(start=nov30.start, end=dec1.end, by="day", queue_ids=[midnight_calls.pk])
    assert [(b["bucket"].date().isoformat(), b["offered"]) for b in by_day] == [("2026-11-30", 1), ("2026-12-01", 2)]
    by_hour = queue_buckets(start=dec1.start, end=dec1.end, by="hour", queue_ids=[midnight_calls.pk])
    assert len(by_hour) == 24
    assert [(b["bucket"].hour, b["offered"]) for b in by_hour if b["offered"]] == [(0, 1), (2, 1)]
    by_month = queue_buckets(start=nov30.start, end=dec1.end, by="month", queue_ids=[midnight_calls.pk])
    assert [(b["bucket"].month, b["offered"]) for b in by_month] == [(11, 1), (12, 2)]


def test_this_week_never_starts_before_the_first_of_the_month(midnight_calls):
    """1 December 2026 is a Tuesday: the week that began on Monday 30 November is, in December, only December."""
    today = date(2026, 12, 1)
    week, month = period("week", today=today), period("month", today=today)
    assert (week.first, month.first) == (date(2026, 12, 1), date(2026, 12, 1))
    day, wk, mo = (figures(midnight_calls, p)["offered"] for p in (period("today", today=today), week, month))
    assert day == wk == mo == 2


def test_today_week_month_nest_for_every_day_and_week_start(settings):
    for start in settings.WEEKDAYS:
        settings.MAYDAY_WEEK_STARTS = start
        for n in range(366):
            today = date(2026, 1, 1) + timedelta(days=n)
            day, week, month = (period(name, today=today) for name in ("today", "week", "month"))
            assert month.start <= week.start <= day.start and day.end == week.end == month.end
            assert week.first.strftime("%A").lower() == start or week.first.day == 1
            assert week_start(today) <= today


def test_period_parameters_are_checked():
    assert parse_period({}).name == "today"
    assert parse_period({"from": "2026-11-01", "to": "2026-11-30"}).last == date(2026, 11, 30)
    for params, message in [
        ({"period": "fortnight"}, "Unknown period"),
        ({"from": "2026-13-01", "to": "2026-12-01"}, "from must be a date"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "ends before it starts"),
        ({"period": "custom", "from": "2026-12-01"}, "needs both"),
        ({"period": "week", "from": "2026-12-01", "to": "2026-12-02"}, "go with period=custom"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "at most 366 days"),
    ]:
        with pytest.raises(PeriodError, match=message):
            parse_period(params)


# ---- agents and the wallboard --------------------------------------------------------------------


def test_agent_time_in_each_status_and_calls(db):
    pbx = PbxServerFactory()
    queue = QueueFactory(pbx=pbx, name="support")
    agent = AgentFactory(pbx=pbx, extension="1005")
    day = period("custom", first=date(2026, 11, 21), last=date(2026, 11, 21))
    local = timezone.get_current_timezone()
    (row,) = agent_figures(start=day.start, end=day.end)
    assert sum(row[f"{a}_seconds"] for a in Availability.values) == 0  # the agent did not exist yet
    agent.created_at = datetime(2026, 1, 1, tzinfo=UTC)
    agent.save(update_fields=["created_at"])

    def status(hour, minute, frm, to):
        AgentStatusEvent.objects.create(
            agent=agent,
            from_availability=frm,
            to_availability=to,
            source=StatusSource.AGENT,
            created_at=datetime(2026, 11, 21, hour, minute, tzinfo=local),
        )

    status(7, 50, Availability.LOGGED_OUT, Availability.AVAILABLE)  # the day before: none; signs in at 07:50
    status(10, 0, Availability.AVAILABLE, Availability.ON_BREAK)
    status(10, 15, Availability.ON_BREAK, Availability.AVAILABLE)
    status(17, 0, Availability.AVAILABLE, Availability.LOGGED_OUT)
    call = QueueCall.objects.create(
        pbx=pbx,
        queue=queue,
        queue_name="support",
        call_id="x",
        entered_at=datetime(2026, 11, 21, 9, tzinfo=local),
        outcome=Outcome.ANSWERED,
        agent=agent,
        talk_seconds=120,
    )
    CallAttempt.objects.create(
        call=call, agent=agent, agent_extension="1005", offered_at=call.entered_at, result=AttemptResult.NO_ANSWER
    )
    (row,) = agent_figures(start=day.start, end=day.end)
    assert (row["answered"], row["talk"], row["average_talk"], row["ring_no_answers"]) == (1, 120, 120.0, 1)
    assert row["available_seconds"] == (2 * 60 + 10 + 6 * 60 + 45) * 60  # 07:50 to 10:00 and 10:15 to 17:00
    assert row["on_break_seconds"] == 15 * 60
    assert row["logged_out_seconds"] == 24 * 3600 - row["available_seconds"] - row["on_break_seconds"]
    next_day = period("custom", first=date(2026, 11, 22), last=date(2026, 11, 22))
    (row,) = agent_figures(start=next_day.start, end=next_day.end)  # no change that day: logged out all day
    assert (row["logged_out_seconds"], row["answered"]) == (24 * 3600, 0)


def test_wallboard_counts_waiting_callers_and_agents(db):
    pbx = PbxServerFactory()
    queue = QueueFactory(pbx=pbx, name="support")
    now = timezone.now()
    for n, ago in enumerate([30, 90]):
        QueueCall.objects.create(
            pbx=pbx, queue=queue, queue_name="support", call_id=f"w{n}", entered_at=now - timedelta(seconds=ago)
        )
    QueueCall.objects.create(  # lost: waiting for days means an event never came
        pbx=pbx, queue=queue, queue_name="support", call_id="old", entered_at=now - timedelta(days=2)
    )
    from tests.factories import MembershipFactory

    for availability in (Availability.AVAILABLE, Availability.AVAILABLE, Availability.ON_BREAK):
        MembershipFactory(queue=queue, agent=AgentFactory(pbx=pbx, availability=availability))
    busy = MembershipFactory(queue=queue, agent=AgentFactory(pbx=pbx, availability=Availability.AVAILABLE))
    busy.in_call = True
    busy.save()
    MembershipFactory(queue=queue, agent=AgentFactory(pbx=pbx))  # logged out: not counted
    (row,) = wallboard(now=now)
    assert (row["waiting"], row["longest_wait_now"]) == (2, 90)
    assert (row["available"], row["on_break"], row["on_call"]) == (2, 1, 1)
