"""Agents' own dashboard and the supervisors' team board."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents import services
from agents.models import LABELS, Agent, Availability, StatusSource
from agents.selectors import agent_for_user, agent_status, pause_reasons, status_documents
from telephony.selectors import queue_names


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    agent = agent_for_user(user=request.user)
    doc = agent_status(agent_id=agent.pk) if agent else None
    return render(
        request,
        "agents/dashboard.html",
        {"agent": agent, "doc": doc, "reasons": pause_reasons(), "labels": LABELS},
    )


@login_required
@require_POST
def set_status(request: HttpRequest) -> HttpResponse:
    """The dashboard's Available / Break buttons (the page works without scripts too)."""
    agent = agent_for_user(user=request.user)
    if agent is None:
        messages.error(request, "No agent is linked to your user.")
        return redirect("dashboard")
    try:
        services.agent_request_status(
            agent=agent,
            availability=request.POST.get("status", ""),
            reason=request.POST.get("reason") or None,
            source=StatusSource.AGENT,
            actor=request.user,
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return redirect("dashboard")


@login_required
@permission_required("agents.view_agent", raise_exception=True)
def team(request: HttpRequest) -> HttpResponse:
    """Every agent on one board; scripts keep it live from /ws/status/."""
    docs = status_documents(agents=Agent.objects.all())
    return render(
        request,
        "agents/team.html",
        {"docs": docs, "queues": queue_names(), "statuses": Availability.choices, "labels": LABELS},
    )
