"""The wallboard's figures as JSON (what /wallboard/ embeds and /ws/wallboard/ sends), and who may watch it."""

from __future__ import annotations

from typing import TypedDict

from agents.selectors import connected_user
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
    """A connected user (agents.selectors.connected_user) who may read the reports."""
    user = connected_user(user_id=user_id, token=token, session_key=session_key)
    return user is not None and user.has_perm(PERMISSION)
