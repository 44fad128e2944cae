"""`manage.py generate_calls`: made-up call history for load tests, spread like a real call center's."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from agents.models import Agent
from reporting.models import Cdr, Outcome, QueueCall
from telephony.models import PbxServer, Queue, QueueMembership

pytestmark = pytest.mark.django_db


def generate(*extra: str) -> str:
    out = io.StringIO()
    args = ["--pbx", "gen", "--calls", "500", "--cdrs", "1000", "--days", "30", "--queues", "3", "--agents", "6"]
    call_command("generate_calls", *args, *extra, stdout=out)
    return out.getvalue()


def test_generates_the_pbx_queues_agents_and_exactly_the_rows_asked_for():
    before = timezone.now()
    assert "Generated 500 queue calls and 1000 CDRs" in generate()
    pbx = PbxServer.objects.get(name="gen")
    assert not pbx.enabled  # nothing tries to connect to a made-up PBX
    assert Queue.objects.filter(pbx=pbx).count() == 3
    agents = Agent.objects.filter(pbx=pbx)
    assert agents.count() == 6
    assert all(a.user.groups.filter(name="Agents").exists() and not a.user.has_usable_password() for a in agents)
    assert not QueueMembership.objects.filter(queue__pbx=pbx).values("queue").annotate(n=Count("pk")).filter(n=0)
    calls = QueueCall.objects.filter(pbx=pbx)
    assert calls.count() == 500
    assert calls.values("call_id").distinct().count() == 500
    assert Cdr.objects.filter(pbx=pbx).count() == 1000
    assert Cdr.objects.filter(pbx=pbx).values("call_id").distinct().count() == 1000
    # Every finished call has its own (not internal) CDR; the rest are internal legs.
    own = set(Cdr.objects.filter(pbx=pbx, internal=False).values_list("call_id", flat=True))
    assert own <= set(calls.values_list("call_id", flat=True))
    assert len(own) >= 490

    first, last = before - timedelta(days=30), timezone.now()
    for call in calls.select_related("agent"):
        assert first <= call.entered_at <= last
        if call.ended_at is not None:
            assert call.entered_at <= call.ended_at <= last
        if call.outcome == Outcome.ANSWERED:
            assert call.agent is not None and call.agent.pbx == pbx and call.wait_seconds is not None
        else:
            assert call.agent is None


def test_outcomes_waits_and_hours_are_spread_like_a_call_center():
    generate("--calls", "2000", "--cdrs", "4000")
    calls = QueueCall.objects.filter(pbx__name="gen")
    share = {row["outcome"]: row["n"] / 2000 for row in calls.values("outcome").annotate(n=Count("pk"))}
    assert 0.78 < share[Outcome.ANSWERED] < 0.90
    assert 0.06 < share[Outcome.ABANDONED] < 0.14
    assert 0.01 < share[Outcome.TIMED_OUT] < 0.06
    assert 0.005 < share[Outcome.EXITED] < 0.04
    waiting = calls.filter(outcome=Outcome.WAITING)
    assert 1 <= waiting.count() <= 10
    assert all(c.entered_at > timezone.now() - timedelta(hours=1) for c in waiting)
    answered = calls.filter(outcome=Outcome.ANSWERED, talk_seconds__isnull=False)
    assert answered.filter(wait_seconds__lte=20).count() > 0.7 * answered.count()
    talk = sorted(answered.values_list("talk_seconds", flat=True))
    assert 120 < talk[len(talk) // 2] < 260  # median a few minutes
    assert calls.filter(outcome=Outcome.ABANDONED, wait_seconds__lt=5).exists()
    assert calls.filter(ring_no_answers__gt=0).exists()
    sizes = sorted(calls.values("queue").annotate(n=Count("pk")).values_list("n", flat=True))
    assert sizes[-1] > 1.5 * sizes[0]  # queues of different sizes
    hours = [timezone.localtime(t).hour for t in calls.values_list("entered_at", flat=True)]
    assert sum(9 <= h < 17 for h in hours) > 5 * sum(h < 6 for h in hours)  # office hours, local time
    weekdays = [timezone.localtime(t).weekday() for t in calls.values_list("entered_at", flat=True)]
    assert weekdays.count(6) < weekdays.count(2) / 2  # quiet Sundays


def test_refuses_a_pbx_that_has_calls_and_replaces_them_when_asked():
    generate()
    ids = set(QueueCall.objects.values_list("pk", flat=True))
    with pytest.raises(CommandError, match="already has 500 queue calls and 1000 CDRs: run again with --replace"):
        generate("--seed", "2")
    assert set(QueueCall.objects.values_list("pk", flat=True)) == ids

    generate("--replace", "--seed", "2")
    assert QueueCall.objects.count() == 500 and Cdr.objects.count() == 1000
    assert not ids & set(QueueCall.objects.values_list("pk", flat=True))
    assert Agent.objects.count() == 6 and Queue.objects.count() == 3  # reused, not made again
