"""Agents' own dashboard and the supervisors' team board."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agents import services
from agents.models import LABELS, Agent, Availability, StatusSource
from agents.selectors import agent_for_user, agent_status, default_pause_reason, pause_reasons, status_documents
from reporting.charts import shown
from reporting.periods import period
from reporting.selectors import agent_figures
from telephony.selectors import queue_choices


def _page_context() -> dict:
    """What every live page's scripts need besides the documents: words, and the call center's time zone."""
    return {"labels": LABELS, "time_zone": settings.TIME_ZONE}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    agent = agent_for_user(user=request.user)
    if agent is None:
        return render(request, "agents/no_agent.html", status=403)
    doc = agent_status(agent_id=agent.pk)
    chosen = doc["pause_reason"] or request.session.get("last_reason") or getattr(default_pause_reason(), "name", "")
    today = period("today")
    (figures,) = agent_figures(start=today.start, end=today.end, agents=Agent.objects.filter(pk=agent.pk))
    return render(
        request,
        "agents/dashboard.html",
        {
            "agent": agent,
            "doc": doc,
            "reasons": pause_reasons(),
            "chosen_reason": chosen,
            "today": shown(figures),
            "as_of": timezone.localtime(),
            **_page_context(),
        },
    )


@login_required
@require_POST
def set_status(request: HttpRequest) -> HttpResponse:
    """The dashboard's Available / Break buttons (the page works without scripts too)."""
    agent = agent_for_user(user=request.user)
    if agent is None:
        return render(request, "agents/no_agent.html", status=403)
    reason = request.POST.get("reason") or None
    try:
        services.agent_request_status(
            agent=agent,
            availability=request.POST.get("status", ""),
            reason=reason,
            source=StatusSource.AGENT,
            actor=request.user,
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        if reason:
            request.session["last_reason"] = reason  # offered first next time
    return redirect("dashboard")


@login_required
def team(request: HttpRequest) -> HttpResponse:
    """Every agent on one board; scripts keep it live from /ws/status/."""
    if not request.user.has_perm("agents.view_agent"):
        return render(request, "agents/not_a_supervisor.html", status=403)
    docs = status_documents(agents=Agent.objects.all())
    limits = {r.name: r.max_minutes for r in pause_reasons().exclude(max_minutes=None)}
    return render(
        request,
        "agents/team.html",
        {
            "docs": docs,
            "queues": queue_choices(),
            "statuses": Availability.choices,
            "break_limits": limits,
            **_page_context(),
        },
    )
