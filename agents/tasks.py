"""Periodic agent work for Celery beat (or the listener, when tasks run inline)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from agents import services


@shared_task(expires=settings.PRESENCE_SWEEP_SECONDS * 2 / 3)
def sweep_presence() -> int:
    """Close expired client sessions and announce presence that changed with the clock."""
    return len(services.presence_sweep())
