"""The wallboard's figures as JSON (what /wallboard/ embeds and /ws/wallboard/ sends), and who may watch it."""

from __future__ import annotations

from importlib import import_module
from typing import TypedDict

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare

from mayday.tokens import token_user
from reporting.selectors import wallboard

PERMISSION = "reporting.view_queuecall"


class WallboardQueue(TypedDict):
    id: int
    name: str
    waiting: int
    longest_wait_now: int  # seconds
    waiting_since: str | None  # ISO time the longest waiter entered: pages count up from it
    answered: int  # today, as abandoned and service_level
    abandoned: int
    service_level: float | None  # percent
    available: int  # the queue's agents now
    on_break: int
    on_call: int


def encoded(row: dict) -> WallboardQueue:
    since = row["waiting_since"]
    return WallboardQueue(
        id=row["queue"].pk,
        name=str(row["queue"]),
        waiting=row["waiting"],
        longest_wait_now=row["longest_wait_now"],
        waiting_since=since.isoformat() if since else None,
        answered=row["answered"],
        abandoned=row["abandoned"],
        service_level=row["service_level"],
        available=row["available"],
        on_break=row["on_break"],
        on_call=row["on_call"],
    )


def wallboard_queues() -> list[WallboardQueue]:
    return [encoded(row) for row in wallboard()]


def may_watch(*, user_id: int, token: str | None, session_key: str | None) -> bool:
    """An active user who may read the reports, while the API token or the sign-in session they came with still
    holds (a changed password ends older sign-ins and tokens; a token also expires)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_perm(PERMISSION):
        return False
    if token:
        owner = token_user(key=token)
        return owner is not None and owner.pk == user.pk
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return session.get(SESSION_KEY) == str(user.pk) and constant_time_compare(
        session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
    )
