"""Reads about agents; views, API and consumers call these instead of querying directly."""

from __future__ import annotations

from django.db.models import QuerySet

from agents.models import Agent


def agent_for_user(*, user) -> Agent | None:
    return Agent.objects.select_related("pbx").filter(user=user).first() if user.is_authenticated else None


def agents_visible_to(*, user) -> QuerySet[Agent]:
    """Supervisors (with the view permission) see every agent; an agent sees only themselves."""
    agents = Agent.objects.select_related("user", "pbx")
    if user.has_perm("agents.view_agent"):
        return agents
    return agents.filter(user=user) if user.is_authenticated else agents.none()
