"""Writes about agents: availability requests, client sessions, presence.

An availability request is recorded first (with its history row) and then
carried out on the PBX by a task enqueued when the transaction commits; the
PBX step can be slow or fail without the request being lost.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agents import live
from agents.models import Agent, AgentStatusEvent, Availability, ClientSession, PauseReason, StatusSource, SyncState
from agents.selectors import availability_fields, default_pause_reason, pause_reasons
from mayday.db import update_rows
from telephony.pbx.base import REACHABLE


def _pause_reason(availability: str, reason: str | None) -> PauseReason | None:
    if availability not in Availability.values:
        raise ValidationError(f"Unknown status {availability!r}: use one of {', '.join(Availability.values)}.")
    active = pause_reasons()
    if availability != Availability.ON_BREAK:
        if reason:
            raise ValidationError(f"A reason goes only with {Availability.ON_BREAK}.")
        return None
    if not reason:
        found = default_pause_reason()
        if found is None:
            raise ValidationError("No pause reason is set up; a supervisor must add one.")
        return found
    # Exactly as named, whatever the database's collation (MySQL compares without letter case); names are
    # unique in any case, so there is at most one candidate.
    found = next((r for r in active.filter(name__iexact=reason) if r.name == reason), None)
    if found is None:
        names = ", ".join(active.values_list("name", flat=True))
        raise ValidationError(f"Unknown pause reason {reason!r}: use one of {names}.")
    return found


def agent_request_status(
    *, agent: Agent, availability: str, reason: str | None = None, source: str, actor=None
) -> Agent:
    """Ask for an availability (with a pause reason for a break, named exactly; the default one if none is).

    Records the transition and marks the request pending; the PBX command
    runs once the transaction commits. Bad input raises ValidationError and
    changes nothing. Asking again for the current state re-sends it (a
    sign-in makes sure the PBX agrees).
    """
    pause_reason = _pause_reason(availability, reason)
    with transaction.atomic():
        # A copy of the caller's agent, its status as it stands under the lock: what the caller loaded with it
        # (its PBX, its memberships) goes on to the command, which then need not read them again.
        locked = copy.copy(agent)
        locked.refresh_from_db(fields=MOVED_FIELDS, from_queryset=Agent.objects.select_for_update())
        AgentStatusEvent.objects.bulk_create(
            _move(locked, availability, pause_reason, SyncState.PENDING, source=source, actor=actor)
        )
        locked.save(update_fields=MOVED_FIELDS)
        # The boards hear of the request before its command runs: its result never reaches them first.
        live.broadcast_on_commit(changed={locked.pk: availability_fields(locked)})
        transaction.on_commit(lambda: _apply(copy.copy(locked)))
    return locked


class Adoption(NamedTuple):
    """An availability the PBX set by itself for an agent, seen when the agent's last request was `request_seq`."""

    agent_id: int
    request_seq: int
    availability: str
    reason: str | None


def agents_adopt_status(*, adoptions: Iterable[Adoption]) -> list[Agent]:
    """The PBX paused or unpaused these agents by itself (FreeSWITCH after max-no-answer, Asterisk's
    auto-pause, a feature code dialled on the phone): make it their availability, recorded with source pbx,
    rather than undo it; except where a request came after the one seen. One transaction however many there
    are (a PBX may pause a whole queue at once). A reason no supervisor set up is kept as an inactive one,
    shown but not offered to agents. Returns the agents changed."""
    seen = {adoption.agent_id: adoption for adoption in adoptions}
    if not seen:  # the usual case for a batch of events: no transaction for nothing
        return []
    names = {a.reason for a in seen.values() if a.availability == Availability.ON_BREAK and a.reason}
    reasons = {name: _kept_reason(name) for name in names}
    with transaction.atomic():
        locked = [
            agent
            for agent in Agent.objects.select_for_update().filter(pk__in=seen)
            if agent.request_seq == seen[agent.pk].request_seq
        ]
        events = []
        for agent in locked:
            adoption = seen[agent.pk]
            reason = reasons.get(adoption.reason) if adoption.availability == Availability.ON_BREAK else None
            events += _move(
                agent, adoption.availability, reason, SyncState.APPLIED, source=StatusSource.PBX, actor=None
            )
        AgentStatusEvent.objects.bulk_create(events)
        if locked:
            update_rows(locked, MOVED_FIELDS)
            live.broadcast_on_commit(changed={agent.pk: availability_fields(agent) for agent in locked})
    return locked


def _kept_reason(name: str) -> PauseReason | None:
    """The pause reason of this name, made (inactive) if no supervisor set it up; None if it cannot be kept."""
    found = PauseReason.objects.filter(name__iexact=name).first()
    if found is None:
        found = PauseReason(name=name, active=False)
        try:
            found.full_clean()
        except ValidationError:
            return None  # not a name Mayday can keep: a break without a reason
        found.save()
    return found


MOVED_FIELDS = ["availability", "pause_reason", "status_since", "sync_state", "sync_error", "request_seq"]


def _move(locked: Agent, availability: str, pause_reason, sync_state: str, *, source: str, actor) -> list:
    """Move a locked agent to this availability; the history row to write when something changed. The caller
    saves the agent's MOVED_FIELDS and the row, and announces the change."""
    events = []
    if (locked.availability, locked.pause_reason_id) != (availability, pause_reason and pause_reason.pk):
        locked.status_since = timezone.now()
        events.append(
            AgentStatusEvent(
                agent=locked,
                from_availability=locked.availability,
                to_availability=availability,
                reason=pause_reason.name if pause_reason else "",
                source=source,
                actor=actor if actor is not None and actor.is_authenticated else None,
                created_at=locked.status_since,
            )
        )
    locked.availability, locked.pause_reason = availability, pause_reason
    locked.sync_state, locked.sync_error = sync_state, ""
    locked.request_seq += 1  # a late result of an earlier request no longer counts
    return events


def _apply(agent: Agent) -> None:
    from telephony.tasks import apply_agent_status, enqueue

    enqueue(apply_agent_status, agent.pk, agent.request_seq, key=agent.extension, inline={"agent": agent})


def agent_sign_in(*, agent: Agent, actor) -> Agent:
    return agent_request_status(
        agent=agent, availability=Availability.AVAILABLE, source=StatusSource.AGENT, actor=actor
    )


def agent_sign_out(*, agent: Agent, actor) -> Agent:
    return agent_request_status(
        agent=agent, availability=Availability.LOGGED_OUT, source=StatusSource.AGENT, actor=actor
    )


# ---- client sessions ---------------------------------------------------------------------------------


def _ttl() -> timedelta:
    return timedelta(seconds=settings.MAYDAY_SESSION_TTL_SECONDS)


def session_open(
    *, agent: Agent, client_type: str, fingerprint: str = "", ip: str | None = None, user_agent: str = ""
) -> ClientSession:
    now = timezone.now()
    session = ClientSession.objects.create(
        agent=agent,
        token=secrets.token_urlsafe(32),
        client_type=client_type,
        fingerprint=fingerprint,
        ip=ip,
        user_agent=user_agent[:300],
        created_at=now,
        last_heartbeat_at=now,
        expires_at=now + _ttl(),
    )
    live.broadcast_on_commit(agent_ids=[agent.pk])
    return session


class SessionClosed(Exception):
    """The session expired or was closed: the client must open a new one."""


def session_heartbeat(*, session: ClientSession) -> ClientSession:
    now = timezone.now()
    # One conditional UPDATE: a session that expired in the meantime stays expired.
    if not ClientSession.objects.filter(pk=session.pk, closed_at__isnull=True, expires_at__gt=now).update(
        last_heartbeat_at=now, expires_at=now + _ttl()
    ):
        raise SessionClosed("This session has expired or was closed; open a new one.")
    session.last_heartbeat_at, session.expires_at = now, now + _ttl()
    return session


def session_close(*, session: ClientSession) -> None:
    if session.closed_at is None:
        session.closed_at = timezone.now()
        session.save(update_fields=["closed_at"])
        live.broadcast_on_commit(agent_ids=[session.agent_id])


def presence_sweep(*, now: datetime | None = None) -> set[int]:
    """Close expired sessions, and re-announce agents whose presence changed with the clock.

    Presence is resolved when read; what changes it without any event is
    time: a session expiring, and a grace period running out. Runs every
    PRESENCE_SWEEP_SECONDS; the window overlaps one sweep so a late run
    misses nobody (announcing twice is harmless).
    """
    now = now or timezone.now()
    expired = ClientSession.objects.filter(closed_at__isnull=True, expires_at__lte=now)
    agent_ids = set(expired.values_list("agent_id", flat=True))
    expired.update(closed_at=F("expires_at"))
    graced = now - timedelta(seconds=settings.MAYDAY_PRESENCE_GRACE_SECONDS)
    window = (graced - timedelta(seconds=2 * settings.PRESENCE_SWEEP_SECONDS), graced)
    agent_ids |= set(ClientSession.objects.filter(closed_at__range=window).values_list("agent_id", flat=True))
    agent_ids |= set(
        Agent.objects.filter(Q(sip_seen_at__range=window) & ~Q(sip_status__in=REACHABLE)).values_list("pk", flat=True)
    )
    live.broadcast_agents(agent_ids=agent_ids)
    return agent_ids
