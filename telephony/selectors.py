"""Reads about the phone system."""

from __future__ import annotations

from django.db.models import QuerySet

from telephony.models import Did, Queue


def queues_visible_to(*, user) -> QuerySet[Queue]:
    """Supervisors see every queue; an agent sees the queues they are a member of."""
    queues = Queue.objects.select_related("pbx")
    if user.has_perm("telephony.view_queue"):
        return queues
    return queues.filter(memberships__agent__user=user) if user.is_authenticated else queues.none()


def dids_all() -> QuerySet[Did]:
    return Did.objects.all()
