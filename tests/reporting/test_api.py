"""The reports API: exact figures as JSON and CSV for known calls, its periods, who may read what, and the
answers to bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.test import AsyncRequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import force_authenticate

from agents.models import Agent
from reporting.api import CallReport
from reporting.models import AttemptResult, CallAttempt, Outcome, QueueCall
from reporting.periods import period
from tests.factories import AgentFactory, QueueFactory

DAY = "2026-11-20"
LOCAL = ZoneInfo(settings.TIME_ZONE)


def at(hour: int, minute: int = 0, day: str = DAY) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=LOCAL).replace(
        hour=hour, minute=minute
    )


def call(queue, n, outcome, wait, *, agent=None, talk=None, entered=None, **extra) -> QueueCall:
    return QueueCall.objects.create(
        pbx=queue.pbx,
        queue=queue,
        queue_name=queue.name,
        call_id=f"{queue.name}.{n}",
        caller_number=f"07000000{n:02d}",
        entered_at=entered or at(10, n),
        outcome=outcome,
        wait_seconds=wait,
        answered_at=(entered or at(10, n)) + timedelta(seconds=wait) if outcome == Outcome.ANSWERED else None,
        agent=agent,
        agent_extension=agent.extension if agent else "",
        talk_seconds=talk,
        **extra,
    )


@pytest.fixture
def center(pbx):
    """Two queues on one day: support (service level 20 s, wrap-up 5 s) with an answered call each for 1005 and
    1006, an abandon and a time-out; sales with an answered call for 1005 and an exit. One call each just
    before and just after the day."""
    ann = AgentFactory(extension="1005", pbx=pbx, display_name="Ann Able")
    bob = AgentFactory(extension="1006", pbx=pbx, display_name="Bob Baker")
    Agent.objects.filter(pk__in=[ann.pk, bob.pk]).update(created_at=datetime(2025, 1, 1, tzinfo=UTC))  # long before
    support = QueueFactory(name="support", pbx=pbx, service_level_seconds=20, wrap_up_seconds=5)
    sales = QueueFactory(name="sales", pbx=pbx, service_level_seconds=20)
    first = call(support, 1, Outcome.ANSWERED, 10, agent=ann, talk=100, ring_seconds=3, caller_name="Carol")
    CallAttempt.objects.create(
        call=first, agent=bob, agent_extension="1006", offered_at=at(10, 1), ring_ms=15000, result="no_answer"
    )
    CallAttempt.objects.create(
        call=first, agent=ann, agent_extension="1005", offered_at=at(10, 1), ring_ms=3000, result="answered"
    )
    call(support, 2, Outcome.ANSWERED, 30, agent=bob, talk=200)
    call(support, 3, Outcome.ABANDONED, 5, caller_name='=HYPERLINK("http://x")')
    call(support, 4, Outcome.TIMED_OUT, 60)
    call(sales, 5, Outcome.ANSWERED, 4, agent=ann, talk=50)
    call(sales, 6, Outcome.EXITED, 2)
    call(support, 7, Outcome.ANSWERED, 1, agent=ann, talk=9, entered=at(23, 59, day="2026-11-19"))
    call(support, 8, Outcome.ANSWERED, 1, agent=ann, talk=9, entered=at(0, 0, day="2026-11-21"))
    return {"ann": ann, "bob": bob, "support": support, "sales": sales}


@pytest.fixture
def sup(api_as, supervisor):
    return api_as(supervisor)


SUPPORT = {
    "offered": 4,
    "answered": 2,
    "abandoned": 1,
    "short_abandoned": 0,
    "timed_out": 1,
    "exited": 0,
    "waiting": 0,
    "answered_within": 1,
    "abandoned_within": 1,
    "wait_answered": 40,
    "longest_wait": 60,
    "talk": 300,
    "talked": 2,
    "abandon_rate": 33.3,
    "service_level": 50.0,
    "service_level_all": 66.7,
    "asa": 20.0,
    "average_talk": 150.0,
    "aht": 155.0,
}
SALES = SUPPORT | {
    "offered": 2,
    "answered": 1,
    "abandoned": 0,
    "timed_out": 0,
    "exited": 1,
    "answered_within": 1,
    "abandoned_within": 0,
    "wait_answered": 4,
    "longest_wait": 4,
    "talk": 50,
    "talked": 1,
    "abandon_rate": 0.0,
    "service_level": 100.0,
    "service_level_all": 100.0,
    "asa": 4.0,
    "average_talk": 50.0,
    "aht": 50.0,
}
TOTAL = SUPPORT | {
    "offered": 6,
    "answered": 3,
    "exited": 1,
    "answered_within": 2,
    "wait_answered": 44,
    "talk": 350,
    "talked": 3,
    "abandon_rate": 25.0,
    "service_level": 66.7,
    "service_level_all": 75.0,
    "asa": 14.7,
    "average_talk": 116.7,
    "aht": 120.0,  # 116.7 + the wrap-up of the answered calls' queues: (5 + 5 + 0) / 3
}


def rows_of(response) -> list[dict]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(content.decode())))


# ---- queues ---------------------------------------------------------------------------------------------------


def test_queue_figures_for_a_custom_day_are_exact(sup, center):
    response = sup.get("/api/reports/queues/", {"from": DAY, "to": DAY})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {
        "name": "custom",
        "from": DAY,
        "to": DAY,
        "start": "2026-11-20T00:00:00+03:00",
        "end": "2026-11-21T00:00:00+03:00",
        "time_zone": "Africa/Nairobi",
    }
    pbx = center["support"].pbx.name
    assert body["queues"] == [
        {"id": center["sales"].pk, "name": "sales", "pbx": pbx, **SALES},
        {"id": center["support"].pk, "name": "support", "pbx": pbx, **SUPPORT},
    ]
    assert body["total"] == TOTAL


def test_queue_figures_as_csv_end_with_all_queues(sup, center):
    response = sup.get("/api/reports/queues/", {"from": DAY, "to": DAY, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="mayday-queues-2026-11-20.csv"'
    rows = rows_of(response)
    assert [row["name"] for row in rows] == ["sales", "support", "All queues"]
    assert rows[1] == {"id": str(center["support"].pk), "name": "support", "pbx": center["support"].pbx.name} | {
        key: str(value) for key, value in SUPPORT.items()
    }
    assert rows[2] | {"id": "x"} == {"id": "x", "name": "All queues", "pbx": ""} | {
        key: str(value) for key, value in TOTAL.items()
    }


def test_queue_filter_takes_several_ids(sup, center):
    both = sup.get("/api/reports/queues/", {"from": DAY, "to": DAY, "queue": [center["support"].pk]})
    assert [q["name"] for q in both.json()["queues"]] == ["support"]
    assert both.json()["total"]["offered"] == 4
    ids = [center["support"].pk, center["sales"].pk]
    assert len(sup.get("/api/reports/queues/", {"from": DAY, "to": DAY, "queue": ids}).json()["queues"]) == 2


def test_periods_pick_their_calls(sup, center):
    today = period("today")
    call(center["support"], 20, Outcome.ANSWERED, 3, talk=5, entered=today.start)
    call(center["support"], 21, Outcome.ABANDONED, 3, entered=today.start - timedelta(seconds=1))

    def offered(**query) -> int:
        response = sup.get("/api/reports/queues/", query)
        assert response.status_code == 200, response.content
        return response.json()["total"]["offered"]

    assert offered() == 1
    assert offered(period="today") == 1
    assert offered(period="yesterday") == 1
    assert offered(period="custom", **{"from": DAY, "to": DAY}) == 6
    assert offered(**{"from": "2026-11-19", "to": "2026-11-21"}) == 8
    assert sup.get("/api/reports/queues/").json()["period"]["from"] == str(today.first)


# ---- agents ---------------------------------------------------------------------------------------------------


ANN = {
    "extension": "1005",
    "name": "Ann Able",
    "answered": 2,
    "talk": 150,
    "average_talk": 75.0,
    "ring_no_answers": 0,
    "available_seconds": 0,
    "on_break_seconds": 0,
    "logged_out_seconds": 86400,
}
BOB = {
    "extension": "1006",
    "name": "Bob Baker",
    "answered": 1,
    "talk": 200,
    "average_talk": 200.0,
    "ring_no_answers": 1,
    "available_seconds": 0,
    "on_break_seconds": 0,
    "logged_out_seconds": 86400,
}


def test_supervisors_see_every_agent(sup, center):
    response = sup.get("/api/reports/agents/", {"from": DAY, "to": DAY})
    assert response.status_code == 200, response.content
    assert response.json()["agents"] == [{"id": center["ann"].pk, **ANN}, {"id": center["bob"].pk, **BOB}]
    named = sup.get("/api/reports/agents/", {"from": DAY, "to": DAY, "agent": [center["bob"].pk]})
    assert [a["extension"] for a in named.json()["agents"]] == ["1006"]


def test_an_agent_sees_only_their_own_row(api_as, center):
    ann, bob = center["ann"], center["bob"]
    client = api_as(ann.user)
    response = client.get("/api/reports/agents/", {"from": DAY, "to": DAY})
    assert response.status_code == 200
    assert response.json()["agents"] == [{"id": ann.pk, **ANN}]
    assert client.get("/api/reports/agents/", {"from": DAY, "to": DAY, "agent": ann.pk}).status_code == 200
    other = client.get("/api/reports/agents/", {"agent": bob.pk})
    missing = client.get("/api/reports/agents/", {"agent": bob.pk + 1000})
    assert other.status_code == missing.status_code == 403
    assert other.json() == missing.json() == {"detail": "An agent reads only their own figures."}
    assert client.get("/api/reports/agents/", {"agent": [ann.pk, bob.pk]}).status_code == 403


def test_agents_as_csv(api_as, center):
    response = api_as(center["ann"].user).get("/api/reports/agents/", {"from": DAY, "to": DAY}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="mayday-agents-2026-11-20.csv"'
    assert rows_of(response) == [{"id": str(center["ann"].pk)} | {key: str(value) for key, value in ANN.items()}]


def test_only_supervisors_read_queues_and_calls(api_as, center, outsider):
    for user in (center["ann"].user, outsider):
        for report in ("queues", "calls"):
            response = api_as(user).get(f"/api/reports/{report}/")
            assert response.status_code == 403, (user, report)
            assert response.json() == {"detail": "Only supervisors read this report."}
    assert api_as(outsider).get("/api/reports/agents/").status_code == 403
    for report in ("queues", "agents", "calls"):
        assert api_as(None).get(f"/api/reports/{report}/", {"format": "csv"}).status_code == 401


# ---- calls ----------------------------------------------------------------------------------------------------


def test_calls_list_every_detail_newest_first(sup, center):
    response = sup.get("/api/reports/calls/", {"from": DAY, "to": DAY})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 6
    assert [c["call_id"] for c in body["results"]] == [f"{q}.{n}" for q, n in (("sales", 6), ("sales", 5))] + [
        f"support.{n}" for n in (4, 3, 2, 1)
    ]
    first = body["results"][-1]
    assert first == {
        "id": first["id"],
        "pbx": center["support"].pbx.name,
        "queue": "support",
        "queue_id": center["support"].pk,
        "call_id": "support.1",
        "caller_number": "0700000001",
        "caller_name": "Carol",
        "entered_at": "2026-11-20T10:01:00+03:00",
        "position": None,
        "outcome": "answered",
        "exit_reason": "",
        "wait_seconds": 10,
        "answered_at": "2026-11-20T10:01:10+03:00",
        "agent_id": center["ann"].pk,
        "agent_extension": "1005",
        "agent_name": "Ann Able",
        "ring_seconds": 3,
        "talk_seconds": 100,
        "ended_at": None,
        "hangup_by": "",
        "ring_no_answers": 0,
        "attempts": [
            {
                "agent_extension": "1006",
                "offered_at": "2026-11-20T10:01:00+03:00",
                "ring_ms": 15000,
                "result": "no_answer",
            },
            {
                "agent_extension": "1005",
                "offered_at": "2026-11-20T10:01:00+03:00",
                "ring_ms": 3000,
                "result": "answered",
            },
        ],
    }


def test_calls_filter_by_queue_agent_and_outcome(sup, center):
    def ids(**query) -> list[str]:
        response = sup.get("/api/reports/calls/", {"from": DAY, "to": DAY, **query})
        assert response.status_code == 200, response.content
        return [c["call_id"] for c in response.json()["results"]]

    assert ids(queue=center["sales"].pk) == ["sales.6", "sales.5"]
    assert ids(agent=center["ann"].pk) == ["sales.5", "support.1"]
    assert ids(agent=[center["ann"].pk, center["bob"].pk], queue=center["support"].pk) == ["support.2", "support.1"]
    assert ids(outcome="abandoned") == ["support.3"]


def test_calls_csv_is_the_whole_period_in_local_time_and_guarded(sup, center):
    response = sup.get("/api/reports/calls/", {"from": "2026-11-01", "to": "2026-11-30", "format": "csv"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="mayday-calls-2026-11-01_2026-11-30.csv"'
    rows = rows_of(response)
    assert len(rows) == 8
    by_id = {row["call_id"]: row for row in rows}
    assert by_id["support.3"]["caller_name"] == '\'=HYPERLINK("http://x")'
    first = by_id["support.1"]
    assert first["entered_at"] == "2026-11-20T10:01:00+03:00"
    assert first["attempts"] == "1006 no_answer 15000ms; 1005 answered 3000ms"
    assert (first["agent_name"], first["position"], first["ended_at"]) == ("Ann Able", "", "")


@pytest.mark.parametrize("name", ["=1+1", "+254700", "-2", "@SUM(A1)", "\tx"])
def test_csv_cells_that_a_spreadsheet_would_run_get_an_apostrophe(sup, center, name):
    QueueCall.objects.filter(call_id="support.1").update(caller_name=name)
    rows = rows_of(
        sup.get("/api/reports/calls/", {"from": DAY, "to": DAY, "queue": center["support"].pk}, HTTP_ACCEPT="text/csv")
    )
    assert rows[-1]["caller_name"] == "'" + name


def test_calls_csv_streams_under_asgi_too(supervisor, center):
    """Under an ASGI server (`manage.py serve`) the lines come from an asynchronous iterator, batch by batch."""
    request = AsyncRequestFactory().get("/api/reports/calls/", {"from": DAY, "to": DAY, "format": "csv"})
    force_authenticate(request, user=supervisor)
    response = CallReport.as_view()(request)
    assert response.is_async

    async def read() -> bytes:
        return b"".join([part async for part in response])

    rows = list(csv.DictReader(io.StringIO(async_to_sync(read)().decode())))
    assert [row["call_id"] for row in rows] == [
        "sales.6",
        "sales.5",
        "support.4",
        "support.3",
        "support.2",
        "support.1",
    ]


def test_calls_are_paginated_but_csv_is_not(sup, pbx):
    queue = QueueFactory(name="busy", pbx=pbx)
    QueueCall.objects.bulk_create(
        QueueCall(pbx=pbx, queue=queue, queue_name="busy", call_id=str(n), entered_at=at(9) + timedelta(seconds=n))
        for n in range(101)
    )
    first = sup.get("/api/reports/calls/", {"from": DAY, "to": DAY}).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (101, 100, None)
    assert first["results"][0]["call_id"] == "100"
    second = sup.get(first["next"]).json()
    assert [c["call_id"] for c in second["results"]] == ["0"]
    assert sup.get("/api/reports/calls/", {"from": DAY, "to": DAY, "page": 3}).status_code == 404
    assert len(rows_of(sup.get("/api/reports/calls/", {"from": DAY, "to": DAY, "format": "csv"}))) == 101


def test_calls_take_the_same_queries_however_many(sup, pbx):
    agent = AgentFactory(pbx=pbx)
    queue = QueueFactory(name="flat", pbx=pbx)

    def add(n: int) -> None:
        for _ in range(n):
            c = call(queue, QueueCall.objects.count(), Outcome.ANSWERED, 5, agent=agent, talk=10)
            for result in (AttemptResult.NO_ANSWER, AttemptResult.ANSWERED):
                CallAttempt.objects.create(
                    call=c, agent=agent, agent_extension=agent.extension, offered_at=c.entered_at, result=result
                )

    def queries(fmt: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = sup.get("/api/reports/calls/", {"from": DAY, "to": DAY, "format": fmt})
            assert response.status_code == 200
            rows_of(response)
        return len(captured)

    add(2)
    few = queries("json"), queries("csv")
    add(20)
    assert (queries("json"), queries("csv")) == few


# ---- bad input ------------------------------------------------------------------------------------------------


PERIOD_ERRORS = [
    ({"period": "fortnight"}, "period", '"fortnight" is not a valid choice.'),
    ({"from": "2026-02-30", "to": "2026-03-01"}, "from", None),
    ({"from": "yesterday"}, "from", None),
    ({"from": "2026-11-20", "to": "2026-11-19"}, "detail", "The period ends before it starts"),
    ({"from": "2026-11-20"}, "detail", "A custom period needs both from and to"),
    ({"period": "today", "from": "2026-11-20", "to": "2026-11-20"}, "detail", "from and to go with period=custom"),
    ({"from": "2024-01-01", "to": "2026-01-01"}, "detail", "A period covers at most 366 days."),
]
FILTER_ERRORS = {
    "queue": [
        ({"queue": "support"}, "queue", "A valid integer is required."),
        ({"queue": "0"}, "queue", None),
        ({"queue": "1" * 30}, "queue", None),
        ({"queue": "99999999"}, "queue", "No queue has id 99999999."),
    ],
    "agent": [
        ({"agent": "1.5"}, "agent", "A valid integer is required."),
        ({"agent": "99999999"}, "agent", "No agent has id 99999999."),
    ],
    "outcome": [({"outcome": "lost"}, "outcome", '"lost" is not a valid choice.')],
}
PERIOD_ERRORS.append(({"format": "xlsx"}, "format", "format must be json or csv."))
FILTERS = {"queues": ["queue"], "agents": ["agent"], "calls": ["queue", "agent", "outcome"]}
BAD_INPUT = [
    pytest.param(report, *error, id=f"{report}-{error[0]}")
    for report, filters in FILTERS.items()
    for error in PERIOD_ERRORS + [e for name in filters for e in FILTER_ERRORS[name]]
]


@pytest.mark.parametrize(("report", "query", "field", "message"), BAD_INPUT)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_bad_input_is_a_400_with_a_message(sup, center, report, query, field, message, fmt):
    response = sup.get(f"/api/reports/{report}/", {"format": fmt, **query})
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert field in body, body
    if message:
        assert message in str(body[field]), body
