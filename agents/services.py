"""Writes about agents: availability requests, client sessions, presence.

An availability request is recorded first (with its history row) and then
carried out on the PBX by a task enqueued when the transaction commits; the
PBX step can be slow or fail without the request being lost.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agents import live
from agents.models import Agent, AgentStatusEvent, Availability, ClientSession, PauseReason, StatusSource, SyncState
from agents.selectors import default_pause_reason, pause_reasons
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
        locked = _move(agent.pk, availability, pause_reason, SyncState.PENDING, source=source, actor=actor)
        transaction.on_commit(lambda: _apply(locked.pk, locked.request_seq, locked.extension))
    return locked


def agent_adopt_status(*, agent_id: int, request_seq: int, availability: str, reason: str | None) -> Agent | None:
    """The PBX paused or unpaused the agent by itself (FreeSWITCH after max-no-answer, Asterisk's
    auto-pause, a feature code dialled on the phone): make it the agent's availability, recorded with
    source pbx, rather than undo it; unless a request came after `request_seq`, the last one seen.
    A reason no supervisor set up is kept as an inactive one, shown but not offered to agents."""
    pause_reason = None
    if availability == Availability.ON_BREAK and reason:
        pause_reason = PauseReason.objects.filter(name__iexact=reason).first()
        if pause_reason is None:
            candidate = PauseReason(name=reason, active=False)
            try:
                candidate.full_clean()
            except ValidationError:
                pass  # not a name Mayday can keep: a break without a reason
            else:
                candidate.save()
                pause_reason = candidate
    with transaction.atomic():
        if not Agent.objects.select_for_update().filter(pk=agent_id, request_seq=request_seq).exists():
            return None
        return _move(agent_id, availability, pause_reason, SyncState.APPLIED, source=StatusSource.PBX, actor=None)


def _move(agent_id: int, availability: str, pause_reason, sync_state: str, *, source: str, actor) -> Agent:
    """Lock the agent, record the transition (a history row when something changed) and announce it."""
    locked = Agent.objects.select_for_update().get(pk=agent_id)
    if (locked.availability, locked.pause_reason_id) != (availability, pause_reason and pause_reason.pk):
        locked.status_since = timezone.now()
        AgentStatusEvent.objects.create(
            agent=locked,
            from_availability=locked.availability,
            to_availability=availability,
            reason=pause_reason.name if pause_reason else "",
            source=source,
            actor=actor if actor is not None and actor.is_authenticated else None,
            created_at=locked.status_since,
        )
    locked.availability, locked.pause_reason = availability, pause_reason
    locked.sync_state, locked.sync_error = sync_state, ""
    locked.request_seq += 1  # a late result of an earlier request no longer counts
    locked.save(
        update_fields=["availability", "pause_reason", "status_since", "sync_state", "sync_error", "request_seq"]
    )
    live.broadcast_on_commit(agent_ids=[locked.pk])
    return locked


def _apply(agent_id: int, request_seq: int, extension: str) -> None:
    from telephony.tasks import apply_agent_status, enqueue

    enqueue(apply_agent_status, agent_id, request_seq, key=extension)


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
