"""Reads about agents; views, API, consumers and the broadcaster call these instead of querying directly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from importlib import import_module
from typing import TypedDict

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from agents.models import AGENTS_GROUP, Agent, ClientSession, PauseReason, Presence
from telephony.models import ConnectionState, QueueMembership
from telephony.pbx.base import REACHABLE, contact_address

# A PBX the listener lost: what it last showed (queues, phones) may be out of date.
PBX_DOWN = {ConnectionState.DISCONNECTED, ConnectionState.ERROR}

# What an agent sees of the other agents on the board: no network details, no sessions.
PUBLIC_FIELDS = ("extension", "full_name", "availability", "pause_reason", "presence", "since")


class QueueStatus(TypedDict):
    queue: str
    on_pbx: bool
    paused: bool
    reason: str
    device_state: str
    in_call: bool
    calls_taken: int
    last_call: str | None


class StatusDocument(TypedDict):
    extension: str
    username: str
    full_name: str
    pbx: str
    availability: str
    pause_reason: str
    sync_state: str
    sync_error: str
    since: str
    presence: str
    session_active: bool
    client_type: str
    ip: str
    port: int | None
    transport: str
    rtt_ms: float | None
    last_seen: str | None
    pbx_down: bool
    queues: list[QueueStatus]


def agent_for_user(*, user) -> Agent | None:
    return Agent.objects.select_related("pbx").filter(user=user).first() if user.is_authenticated else None


def agents_visible_to(*, user) -> QuerySet[Agent]:
    """Supervisors (with the view permission) see every agent; an agent sees only themselves."""
    agents = Agent.objects.select_related("user", "pbx")
    if user.has_perm("agents.view_agent"):
        return agents
    return agents.filter(user=user) if user.is_authenticated else agents.none()


def pause_reasons() -> QuerySet[PauseReason]:
    return PauseReason.objects.filter(active=True)


def default_pause_reason() -> PauseReason | None:
    """The reason of a break asked for without one: the one marked default, else the first offered."""
    return pause_reasons().order_by("-is_default", "display_order", "name").first()


def presence_of(agent: Agent, sessions: list[ClientSession], now: datetime) -> dict:
    """Resolve presence, best source first; each source counts for the grace period after it stops.

    1. a live client session (heartbeats arriving) -> online, with the client's type and IP;
    2. a reachable PJSIP contact -> online, with its IP, port, transport and RTT;
    3. an endpoint (or FreeSWITCH agent) configured on the PBX -> registered;
    otherwise offline.
    """
    grace = timedelta(seconds=settings.MAYDAY_PRESENCE_GRACE_SECONDS)
    ip, port, transport = contact_address(agent.sip_uri)
    sip_online = agent.sip_status in REACHABLE or (agent.sip_seen_at is not None and agent.sip_seen_at > now - grace)
    live = [s for s in sessions if s.live_at(now)]
    recent = live or [s for s in sessions if s.last_live() > now - grace]
    sip_seen = now if agent.sip_status in REACHABLE else agent.sip_seen_at
    seen = [t for t in (sip_seen, *(s.last_heartbeat_at for s in sessions)) if t is not None]
    doc = {
        "presence": Presence.OFFLINE,
        "session_active": bool(live),
        "client_type": "",
        "ip": ip,
        "port": port,
        "transport": transport,
        "rtt_ms": round(agent.sip_rtt_usec / 1000, 1) if agent.sip_rtt_usec is not None else None,
        "last_seen": _iso(max(seen)) if seen else None,
    }
    if recent:
        session = max(recent, key=lambda s: s.last_heartbeat_at)
        doc.update(presence=Presence.ONLINE, client_type=session.client_type, ip=session.ip or ip)
    elif sip_online:
        doc["presence"] = Presence.ONLINE
    elif agent.sip_endpoint:
        doc["presence"] = Presence.REGISTERED
    return doc


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# An agent's memberships with their queues, in one query.
MEMBERSHIPS = Prefetch("memberships", queryset=QueueMembership.objects.select_related("queue"))


def with_status(agents: QuerySet[Agent], now: datetime | None = None) -> QuerySet[Agent]:
    """Everything a status document needs, in three queries whatever the number of agents."""
    cut = (now or timezone.now()) - timedelta(seconds=settings.MAYDAY_PRESENCE_GRACE_SECONDS)
    recent = ClientSession.objects.filter(Q(closed_at__isnull=True) | Q(closed_at__gt=cut), expires_at__gt=cut)
    return agents.select_related("user", "pbx", "pause_reason").prefetch_related(
        Prefetch("sessions", queryset=recent, to_attr="recent_sessions"),
        MEMBERSHIPS,
    )


def availability_fields(agent: Agent) -> dict:
    """The part of an agent's status a request or a command result changes: built from the agent row in hand."""
    return {
        "extension": agent.extension,
        "availability": agent.availability,
        "pause_reason": agent.pause_reason.name if agent.pause_reason_id else "",
        "sync_state": agent.sync_state,
        "sync_error": agent.sync_error,
        "since": _iso(agent.status_since),
    }


def queue_statuses(memberships: Iterable[QueueMembership]) -> list[QueueStatus]:
    """An agent's queues as the PBX shows them (each membership with its queue loaded), in the model's order."""
    return [
        QueueStatus(
            queue=m.queue.name,
            on_pbx=m.on_pbx,
            paused=m.paused,
            reason=m.pause_reason,
            device_state=m.device_state,
            in_call=m.in_call,
            calls_taken=m.calls_taken,
            last_call=_iso(m.last_call_at),
        )
        for m in memberships
    ]


def status_document(agent: Agent, now: datetime) -> StatusDocument:
    """The one shape of an agent's status: API, websocket and pages all use it."""
    return StatusDocument(
        **availability_fields(agent),
        username=agent.user.username,
        full_name=agent.display_name,
        pbx=agent.pbx.name,
        **presence_of(agent, agent.recent_sessions, now),
        pbx_down=agent.pbx.enabled and agent.pbx.state in PBX_DOWN,
        queues=queue_statuses(agent.memberships.all()),
    )


def status_documents(*, agents: QuerySet[Agent]) -> list[StatusDocument]:
    now = timezone.now()
    return [status_document(agent, now) for agent in with_status(agents, now)]


def public_fields(doc: dict) -> dict:
    """What one agent may see of another, of a whole document or of the fields that changed."""
    return {key: doc[key] for key in PUBLIC_FIELDS if key in doc}


def sessions_visible_to(*, user, active_only: bool = False) -> QuerySet[ClientSession]:
    """An agent's own client sessions, or everyone's for supervisors; `active_only` ignores closed and expired ones."""
    sessions = ClientSession.objects.select_related("agent")
    if not user.is_authenticated:
        return sessions.none()
    if active_only:
        sessions = sessions.filter(closed_at__isnull=True, expires_at__gt=timezone.now())
    return sessions if user.has_perm("agents.view_agent") else sessions.filter(agent__user=user)


def agent_status(*, agent_id: int) -> StatusDocument:
    return status_documents(agents=Agent.objects.filter(pk=agent_id))[0]


def may_change_agent(*, user, agent: Agent) -> bool:
    """An agent may change what is theirs; supervisors (with the change permission) anyone's."""
    return agent.user_id == user.pk or user.has_perm("agents.change_agent")


def linkable_as_agent(user) -> bool:
    """Whether an existing user may be made an agent: one who can do no more than an agent."""
    return not (
        user.is_staff
        or user.is_superuser
        or user.user_permissions.exists()
        or user.groups.exclude(name=AGENTS_GROUP).exists()
    )


def may_manage_user(*, actor, user) -> bool:
    """Nobody sets the password of, or revokes the tokens of, a user who can do more than they can."""
    if actor is None or not actor.is_active:
        return False
    if actor.is_superuser or actor.pk == user.pk:
        return True
    return (
        not user.is_superuser
        and (actor.is_staff or not user.is_staff)
        and user.get_all_permissions() <= actor.get_all_permissions()
    )


def socket_user(*, token: str | None, session_key: str | None):
    """The active user a websocket comes as: the owner of the API token it gave, else the user of its sign-in
    session, while that holds (a changed password ends older sign-ins and tokens, a token also expires); else
    None. A token that is given but wrong is None, whatever the session."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model

    from mayday.tokens import token_user

    if token:
        return token_user(key=token)  # a connection that stays open keeps its token in use
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user_id = session.get(SESSION_KEY)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None or not constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return None
    return user


def connected_user(*, user_id: int, token: str | None, session_key: str | None):
    """The user of this id, while the token or the sign-in session its websocket came with still holds (as
    `socket_user`); else None."""
    user = socket_user(token=token, session_key=session_key)
    return user if user is not None and user.pk == user_id else None


def board_viewer(*, user_id: int, token: str | None, session_key: str | None) -> tuple[bool, str | None] | None:
    """(sees everyone, own extension) for a connected user who may watch the board; else None."""
    user = connected_user(user_id=user_id, token=token, session_key=session_key)
    if user is None:
        return None
    own = Agent.objects.filter(user=user).values_list("extension", flat=True).first()
    supervisor = user.has_perm("agents.view_agent")
    return (supervisor, own) if supervisor or own else None
