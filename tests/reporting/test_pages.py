"""The report page, the wallboard page and the agent's own figures on the dashboard: who may open them, the
figures they show from known calls, their charts and CSV links, and bad parameters answered with 400."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reporting.charts import DASH
from reporting.models import AttemptResult, CallAttempt, Outcome, QueueCall
from tests.factories import AgentFactory, PbxServerFactory, QueueFactory

DAY = "period=custom&from=2025-03-03&to=2025-03-03"


def at(hour: int, minute: int = 0) -> datetime:
    """A moment on Monday 3 March 2025, call-center time."""
    return datetime(2025, 3, 3, hour, minute, tzinfo=ZoneInfo("Africa/Nairobi"))


def call(queue, n: int, outcome: str, wait: int, *, talk: int | None = None, agent=None, entered=None) -> QueueCall:
    return QueueCall.objects.create(
        pbx=queue.pbx,
        queue=queue,
        queue_name=queue.name,
        call_id=f"1741000000.{n}",
        entered_at=entered or at(9, n),
        outcome=outcome,
        wait_seconds=wait,
        talk_seconds=talk,
        agent=agent,
        agent_extension=agent.extension if agent else "",
    )


@pytest.fixture
def day(db, settings):
    """One queue's Monday: 2 answered (one within the 20 s threshold), 1 abandoned, 1 abandoned too soon to count,
    1 timed out, 1 exited; and a call on another day that must not count."""
    settings.MAYDAY_SHORT_ABANDON_SECONDS = 5
    pbx = PbxServerFactory(name="ast")
    queue = QueueFactory(name="support", pbx=pbx, service_level_seconds=20, wrap_up_seconds=10)
    agent = AgentFactory(extension="1005", pbx=pbx, display_name="Ann Agent", availability="logged_out")
    agent.created_at = at(0) - timedelta(days=30)  # an agent's time counts from when it was created
    agent.save(update_fields=["created_at"])
    first = call(queue, 1, Outcome.ANSWERED, 10, talk=100, agent=agent)
    call(queue, 2, Outcome.ANSWERED, 30, talk=200, agent=agent, entered=at(14, 30))
    call(queue, 3, Outcome.ABANDONED, 15)
    call(queue, 4, Outcome.ABANDONED, 3)
    call(queue, 5, Outcome.TIMED_OUT, 60)
    call(queue, 6, Outcome.EXITED, 5)
    call(queue, 7, Outcome.ANSWERED, 1, talk=1, agent=agent, entered=at(9) + timedelta(days=1))
    CallAttempt.objects.create(
        call=first, agent=agent, agent_extension="1005", offered_at=at(9, 1), result=AttemptResult.NO_ANSWER
    )
    return queue, agent


def cells(page: str, table: str, row: str) -> list[str]:
    """The texts of one row (the one whose first cell is `row`) of a table on the page."""
    body = re.search(rf'<table[^>]*id="{table}".*?</table>', page, re.S).group(0)
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        texts = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
        if texts and texts[0] == row:
            return texts[1:]
    raise AssertionError(f"no row {row!r} in {table}")


def test_a_supervisor_sees_the_figures_of_the_days_calls(client, supervisor, day):
    client.force_login(supervisor)
    response = client.get(f"/reports/?{DAY}")
    page = response.content.decode()
    assert response.status_code == 200 and "Mon 03 Mar 2025" in page
    # offered, answered, abandoned, short, timed out, exited, abandon rate, SL, SL2, ASA, longest wait, AHT
    expected = ["6", "2", "1", "1", "1", "1", "33.3%", "50.0%", "66.7%", "0:20", "1:00", "2:40"]
    assert cells(page, "queue-figures", "support (ast)") == expected
    assert cells(page, "queue-figures", "Total") == expected
    # answered, talk, average talk, rang not answered, available, on break, logged out (the whole day)
    assert cells(page, "agent-figures", "Ann Agent (1005)") == ["2", "5:00", "2:30", "1", "0:00", "0:00", "24:00"]


def test_the_charts_are_drawn_in_the_page_with_titles(client, supervisor, day):
    client.force_login(supervisor)
    page = client.get(f"/reports/?{DAY}").content.decode()
    assert page.count('<svg class="chart-svg"') == 3
    assert "<title>Calls by hour, Mon 03 Mar 2025</title>" in page
    assert "<title>Calls by day, March 2025</title>" in page  # the month around the day
    assert "<title>Service level by hour, Mon 03 Mar 2025</title>" in page
    assert f"<title>Mon 03 Mar, 09:00{DASH}10:00: 5 offered, 1 answered, 1 abandoned</title>" in page
    assert f"<title>Mon 03 Mar, 14:00{DASH}15:00: 0.0%</title>" in page
    assert f"<title>Mon 03 Mar, 10:00{DASH}11:00: no answered calls</title>" in page
    assert "<title>Tue 04 Mar 2025: 1 offered, 1 answered, 0 abandoned</title>" in page
    assert 'class="bar s-offered"' in page and 'class="line s-service_level"' in page
    assert "style=" not in page  # the Content-Security-Policy allows no inline style


def test_the_csv_links_carry_the_period_and_the_queue(client, supervisor, day):
    queue, _ = day
    client.force_login(supervisor)
    page = client.get(f"/reports/?{DAY}&queue={queue.pk}").content.decode()
    period = "period=custom&amp;from=2025-03-03&amp;to=2025-03-03"
    assert f'href="/api/reports/queues/?format=csv&amp;{period}&amp;queue={queue.pk}"' in page
    assert f'href="/api/reports/calls/?format=csv&amp;{period}&amp;queue={queue.pk}"' in page
    assert f'href="/api/reports/agents/?format=csv&amp;{period}"' in page
    page = client.get("/reports/?period=week&from=2025-03-03&to=2025-03-01").content.decode()
    assert 'href="/api/reports/queues/?format=csv&amp;period=week"' in page  # the form's dates count for custom only


def test_one_queue_is_chosen_and_the_period_defaults_to_today(client, supervisor, day):
    queue, _ = day
    other = QueueFactory(name="sales", pbx=queue.pbx)
    client.force_login(supervisor)
    page = client.get(f"/reports/?{DAY}&queue={other.pk}").content.decode()
    assert cells(page, "queue-figures", "sales (ast)")[:2] == ["0", "0"]
    assert "support (ast)</th>" not in page
    response = client.get("/reports/")
    assert response.status_code == 200
    assert f"{timezone.localdate():%a %d %b %Y}" in response.content.decode()


@pytest.mark.parametrize(
    "query, message",
    [
        ("period=custom&from=2025-02-30&to=2025-03-03", "from must be a date as YYYY-MM-DD"),
        ("from=2025-03-05&to=2025-03-01", "The period ends before it starts"),
        ("period=custom", "A custom period needs both from and to"),
        ("period=fortnight", "Unknown period &#x27;fortnight&#x27;"),
        ("queue=999999", "Unknown queue &#x27;999999&#x27;"),
        ("queue=support", "Unknown queue &#x27;support&#x27;"),
    ],
)
def test_bad_parameters_show_why_with_400(client, supervisor, day, query, message):
    client.force_login(supervisor)
    response = client.get(f"/reports/?{query}")
    page = response.content.decode()
    assert response.status_code == 400 and message in page
    assert 'role="alert"' in page and 'name="period"' in page  # the form is there to put it right
    assert "queue-figures" not in page


def test_reports_and_wallboard_are_for_supervisors(client, agent, supervisor):
    assert client.get("/reports/").url.startswith("/accounts/login/")
    assert client.get("/wallboard/").url.startswith("/accounts/login/")
    client.force_login(agent.user)
    for path in ("/reports/", "/wallboard/"):
        response = client.get(path)
        assert response.status_code == 403 and "for supervisors" in response.content.decode()
    assert 'href="/reports/"' not in client.get("/dashboard/").content.decode()
    client.force_login(supervisor)
    page = client.get("/team/").content.decode()
    assert 'href="/reports/"' in page and 'href="/wallboard/"' in page


def test_the_wallboard_page_carries_every_queue(client, supervisor, day):
    queue, _ = day
    QueueCall.objects.create(
        pbx=queue.pbx, queue=queue, queue_name="support", call_id="waiting.1", entered_at=timezone.now()
    )
    client.force_login(supervisor)
    page = client.get("/wallboard/").content.decode()
    found = re.search(r'<script id="queues" type="application/json">(.*?)</script>', page, re.S)
    (board,) = json.loads(found.group(1))
    assert (board["id"], board["name"], board["waiting"]) == (queue.pk, "support (ast)", 1)
    assert board["waiting_since"] and 'src="/static/js/wallboard.js"' in page


def test_the_report_page_reads_as_often_for_many_queues_and_agents_as_for_one(client, supervisor, day):
    queue, _ = day
    client.force_login(supervisor)

    def reads() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/reports/?{DAY}").status_code == 200
        return len(queries)

    few = reads()
    for n in range(10):
        other = QueueFactory(name=f"q{n}", pbx=queue.pbx)
        agent = AgentFactory(extension=str(3000 + n), pbx=queue.pbx)
        call(other, 100 + n, Outcome.ANSWERED, 5, talk=30, agent=agent, entered=at(11, n))
    assert reads() == few <= 20


def test_the_dashboard_shows_the_agents_own_figures_for_today(client, db):
    pbx = PbxServerFactory(name="ast")
    queue = QueueFactory(name="support", pbx=pbx)
    me = AgentFactory(extension="1005", pbx=pbx, availability="logged_out")
    someone = AgentFactory(extension="1006", pbx=pbx)
    now = timezone.now()
    call(queue, 1, Outcome.ANSWERED, 5, talk=125, agent=me, entered=now)
    call(queue, 2, Outcome.ANSWERED, 5, talk=65, agent=me, entered=now)
    call(queue, 3, Outcome.ANSWERED, 5, talk=999, agent=someone, entered=now)
    call(queue, 4, Outcome.ANSWERED, 5, talk=999, agent=me, entered=now - timedelta(days=2))
    client.force_login(me.user)
    page = client.get("/dashboard/").content.decode()
    today = re.search(r'<dl class="stats" id="today">(.*?)</dl>', page, re.S).group(1)
    figures = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", today))
    assert figures["Calls answered"] == "2"
    assert figures["Talk time"] == "3:10"
    assert figures["Average talk"] == "1:35"
    assert figures["Rang, not answered"] == "0"
    assert figures["Available"] == "0:00"
