"""Writes about the phone system.

Two directions: what the PBX told us (events and snapshots, applied to the
observed fields) and what we ask of it (an agent's availability, pushed by
tasks and repaired by reconciliation). Nothing here speaks AMI or ESL; the
backends in `telephony.pbx` do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from agents import live
from agents import services as agent_services
from agents.models import AGENT_OBSERVED_FIELDS, Agent, Availability, SyncState
from agents.selectors import MEMBERSHIPS, queue_statuses
from mayday.db import update_rows
from telephony.models import (
    OBSERVED_FIELDS,
    CallRequest,
    CallState,
    ConnectionState,
    LogoutAction,
    PbxKind,
    PbxServer,
    QueueMembership,
)
from telephony.pbx import events as ev
from telephony.pbx.base import (
    REACHABLE,
    RING_SECONDS,
    MemberState,
    Observed,
    Originated,
    PbxBackend,
    PbxError,
    Seat,
    Snapshot,
    backend_class,
    backend_for,
    command_backend,
)
from telephony.selectors import routing_wanted

log = logging.getLogger(__name__)

GONE = {"on_pbx": False, "paused": False, "pause_reason": "", "device_state": "", "in_call": False}
# The PBX may pause or unpause an agent by itself; that is taken as the agent's availability once the
# agent's own last change has settled (before, an event may still be the echo of an earlier command).
SETTLE_SECONDS = 5


def pbx_record_connection(*, pbx_id: int, state: str, error: str = "") -> None:
    """The listener's view of a PBX connection, shown in the admin. When it goes up or down, its agents are
    announced again: pages mark what that PBX showed them as out of date, or current again."""
    fields = {"state": state, "last_error": error[:2000]}
    if state == ConnectionState.CONNECTED:
        fields["last_connected_at"] = timezone.now()
    if PbxServer.objects.filter(pk=pbx_id).exclude(state=state).update(**fields):
        live.broadcast_agents(agent_ids=Agent.objects.filter(pbx_id=pbx_id).values_list("pk", flat=True))
    else:
        PbxServer.objects.filter(pk=pbx_id).update(**fields)


def _epoch(seconds: int):
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


def _assign(obj, values: dict) -> set[str]:
    """Set these fields on `obj`; the names of those whose value changed."""
    changed = set()
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed.add(key)
    return changed


def _memberships(pbx_id: int, extensions: Iterable[str] | None = None) -> list[QueueMembership]:
    """A PBX's memberships (only these agents' when `extensions` is given), queue and agent loaded, in the
    model's order: whole per agent, so an agent's queues can be announced from them."""
    rows = QueueMembership.objects.filter(queue__pbx_id=pbx_id).select_related("queue", "agent")
    if extensions is not None:
        rows = rows.filter(agent__extension__in=set(extensions))
    return list(rows)


def _contact(agent: Agent, status: str, uri: str, rtt_usec: int | None, now) -> dict:
    """An agent's PJSIP contact fields; `sip_seen_at` moves when reachability changes, so once the
    contact is lost it says when it was last reachable (the presence grace period counts from there)."""
    values = {"sip_status": status, "sip_uri": "" if status == "Removed" else uri, "sip_rtt_usec": rtt_usec}
    if (status in REACHABLE) != (agent.sip_status in REACHABLE):
        values["sip_seen_at"] = now
    return values


# The agent fields a board shows (as presence); the others the PBX reports (its own agent status) it does not.
PRESENCE_FIELDS = {"sip_endpoint", "sip_status", "sip_uri", "sip_rtt_usec", "sip_seen_at"}


def _save(rows: list[QueueMembership], changed: list[QueueMembership], agents: list[Agent], seen: set[int]) -> None:
    """Write the observed fields of the `changed` memberships and the `agents`, then announce: the queues of the
    agents whose memberships changed, from `rows` (every membership of those agents, in order), and whole
    documents of the agents whose presence changed (`seen`)."""
    now = timezone.now()
    for m in changed:
        m.observed_at = now
    with transaction.atomic():
        if changed:
            update_rows(changed, OBSERVED_FIELDS)
        if agents:
            update_rows(agents, AGENT_OBSERVED_FIELDS)
    moved = {m.agent_id for m in changed} - seen
    queues: dict[int, list[QueueMembership]] = {}
    for m in rows:
        if m.agent_id in moved:
            queues.setdefault(m.agent_id, []).append(m)
    live.broadcast_agents(
        agent_ids=seen,
        changed={pk: {"extension": ms[0].agent.extension, "queues": queue_statuses(ms)} for pk, ms in queues.items()},
    )


def pbx_apply_snapshot(*, pbx_id: int, snapshot: Snapshot, agents: list[Agent] | None = None) -> None:
    """Make every membership's observed fields what the snapshot says (members it lacks are off the PBX).
    `agents`: the PBX's agents with their memberships (MEMBERSHIPS), when the caller has them already."""
    if agents is None:
        agents = list(Agent.objects.filter(pbx_id=pbx_id).prefetch_related(MEMBERSHIPS))
    seen = {(m.queue, m.extension): m for m in snapshot.members}
    rows = [m for agent in agents for m in agent.memberships.all() if m.queue.pbx_id == pbx_id]
    changed = []
    for row in rows:
        state = seen.get((row.queue.name, row.agent.extension))
        values = (
            GONE
            if state is None
            else {
                "on_pbx": True,
                "paused": state.paused,
                "pause_reason": state.reason,
                "device_state": state.device_state,
                "in_call": state.in_call,
                "calls_taken": state.calls_taken,
                "last_call_at": _epoch(state.last_call),
            }
        )
        if _assign(row, values):
            changed.append(row)
    # Endpoints the PBX knows: PJSIP endpoints (Asterisk) or mod_callcenter agents (FreeSWITCH).
    known = set(snapshot.endpoints) | set(snapshot.agents)
    contacts = {}
    for c in sorted(snapshot.contacts, key=lambda c: c.status in REACHABLE):  # a reachable contact wins
        contacts[c.endpoint] = c
    moved, presence = [], set()
    now = timezone.now()
    for agent in agents:
        values = {"sip_endpoint": agent.extension in known}
        if agent.extension in snapshot.agents:
            values["pbx_status"], values["pbx_state"] = snapshot.agents[agent.extension]
        c = contacts.get(agent.extension)
        if c is not None:
            values.update(_contact(agent, c.status, c.uri, c.rtt_usec, now))
        elif snapshot.has_sip and agent.sip_status:
            values.update(_contact(agent, "Removed", "", None, now))
        fields = _assign(agent, values)
        if fields:
            moved.append(agent)
        if fields & PRESENCE_FIELDS:
            presence.add(agent.pk)
    _save(rows, changed, moved, presence)


def pbx_apply_events(*, pbx_id: int, events: list[ev.Event]) -> int:
    """Apply a batch of events, keeping only the last word on each member and agent.

    Returns how many events touched state. At most two SELECTs (the agents'
    memberships, and the agents when their own fields moved) and a bulk UPDATE
    per batch whatever its size, so a burst costs about as much as one event.
    """
    members: dict[tuple[str, str], dict] = {}
    agent_fields: dict[str, dict] = {}
    agent_members: dict[str, dict] = {}
    contacts: dict[str, ev.ContactStatus] = {}
    relevant = 0
    for e in events:
        t = type(e)
        if t is ev.MemberStatus:
            values = {
                "on_pbx": True,
                "device_state": e.device_state,
                "in_call": e.in_call,
                "paused": e.paused,
                "pause_reason": e.reason,
                "calls_taken": e.calls_taken,
                "last_call_at": _epoch(e.last_call),
            }
        elif t is ev.MemberPaused:
            values = {"on_pbx": True, "paused": e.paused, "pause_reason": e.reason}
        elif t is ev.MemberAdded:
            values = {
                "on_pbx": True,
                "paused": e.paused,
                "pause_reason": e.reason,
                "device_state": e.device_state,
                "calls_taken": e.calls_taken,
                "last_call_at": _epoch(e.last_call),
            }
        elif t is ev.MemberRemoved:
            values = GONE
        elif t is ev.AgentConnected:
            values = {"in_call": True}
        elif t is ev.AgentCompleted:
            values = {"in_call": False}
        elif t is ev.AgentStatusChanged:
            agent_fields.setdefault(e.extension, {})["pbx_status"] = e.status
            agent_members.setdefault(e.extension, {}).update(paused=e.paused, pause_reason="")
            relevant += 1
            continue
        elif t is ev.AgentStateChanged:
            agent_fields.setdefault(e.extension, {})["pbx_state"] = e.state
            agent_members.setdefault(e.extension, {}).update(device_state=e.device_state, in_call=e.in_call)
            relevant += 1
            continue
        elif t is ev.ContactStatus:
            contacts[e.endpoint] = e
            relevant += 1
            continue
        else:
            continue
        relevant += 1
        members.setdefault((e.queue, e.extension), {}).update(values)
    if not relevant:
        return 0

    paused_or_not: set[int] = set()  # agents the PBX may have paused or unpaused
    rows, changed = [], []
    if members or agent_members:
        rows = _memberships(pbx_id, extensions={e for _, e in members} | agent_members.keys())
        for row in rows:
            own = members.get((row.queue.name, row.agent.extension), {})
            # The agent's own events (FreeSWITCH) apply over the queue's: both kinds of update go to one row.
            fields = _assign(row, {**own, **agent_members.get(row.agent.extension, {})})
            if fields:
                changed.append(row)
                if "paused" in own:
                    paused_or_not.add(row.agent_id)
    agents, presence = [], set()
    if agent_fields or contacts:
        now = timezone.now()
        for agent in Agent.objects.filter(pbx_id=pbx_id, extension__in=agent_fields.keys() | contacts.keys()):
            values = dict(agent_fields.get(agent.extension, {}))
            c = contacts.get(agent.extension)
            if c is not None:
                values.update(_contact(agent, c.status, c.uri, c.rtt_usec, now))
            fields = _assign(agent, values)
            if fields:
                agents.append(agent)
                if "pbx_status" in fields:
                    paused_or_not.add(agent.pk)
            if fields & PRESENCE_FIELDS:
                presence.add(agent.pk)
    _save(rows, changed, agents, presence)
    if paused_or_not:
        _follow_pbx(paused_or_not)
    return relevant


def _follow_pbx(agent_ids: set[int]) -> None:
    """Take a pause or unpause the PBX made by itself, seen in events, as the agent's availability."""
    now = timezone.now()
    settled = Agent.objects.filter(  # the settled half of _made_by_pbx, in SQL: unsettled agents cost nothing
        pk__in=agent_ids,
        availability__in=[Availability.AVAILABLE, Availability.ON_BREAK],
        sync_state=SyncState.APPLIED,
        status_since__lt=now - timedelta(seconds=SETTLE_SECONDS),
    )
    adoptions = []
    for agent in settled.select_related("pbx").prefetch_related(MEMBERSHIPS):
        observed = _observed(agent)
        if _made_by_pbx(agent, observed, now):
            adoptions.append(_adoption(agent, observed))
    agent_services.agents_adopt_status(adoptions=adoptions)


def _adoption(agent: Agent, observed: Observed) -> agent_services.Adoption:
    return agent_services.Adoption(agent.pk, agent.request_seq, observed.availability, observed.reason)


def _observed(agent: Agent) -> Observed | None:
    """The availability the stored observations (events, snapshots) show for this agent."""
    rows = list(agent.memberships.all())
    seen = Snapshot(
        members=[MemberState(m.queue.name, agent.extension, m.paused, m.pause_reason) for m in rows if m.on_pbx],
        agents={agent.extension: (agent.pbx_status, agent.pbx_state)} if agent.pbx_status else {},
    )
    return backend_class(agent.pbx.kind).observed_availability(seen, agent.extension, [m.queue.name for m in rows])


def _made_by_pbx(agent: Agent, observed: Observed | None, now: datetime) -> bool:
    """Did the PBX pause or unpause this settled agent by itself? Signing in or out stays the agent's:
    a PBX that restarts and forgets its members is repaired, not followed."""
    return (
        observed is not None
        and {agent.availability, observed.availability} == {Availability.AVAILABLE, Availability.ON_BREAK}
        and agent.sync_state == SyncState.APPLIED
        and agent.status_since < now - timedelta(seconds=SETTLE_SECONDS)
    )


# ---- what we ask of the PBX ------------------------------------------------------------------------


def _seats(agent: Agent) -> list[Seat]:
    return [Seat(m.queue.name, m.penalty, m.queue.on_logout == LogoutAction.PAUSE) for m in agent.memberships.all()]


def _reason(agent: Agent) -> str:
    return agent.pause_reason.name if agent.availability == Availability.ON_BREAK and agent.pause_reason else ""


def _push(backend: PbxBackend, agent: Agent) -> None:
    backend.set_availability(
        extension=agent.extension,
        name=agent.display_name,
        availability=agent.availability,
        reason=_reason(agent),
        queues=_seats(agent),
    )


def agent_record_sync(*, agent: Agent, state: str, error: str = "", request_seq: int | None = None) -> None:
    """Record where the agent's request stands. With `request_seq`, only if no newer request came since."""
    rows = Agent.objects.filter(pk=agent.pk)
    if request_seq is not None:
        rows = rows.filter(request_seq=request_seq)
    if rows.update(sync_state=state, sync_error=error[:2000]):
        agent.sync_state, agent.sync_error = state, error[:2000]
        fields = {"extension": agent.extension, "sync_state": state, "sync_error": agent.sync_error}
        live.broadcast_agents(changed={agent.pk: fields})


def agent_push_availability(*, agent_id: int, request_seq: int | None = None, agent: Agent | None = None) -> None:
    """Carry out the agent's availability on its PBX now: the one of `agent` (as its request left it: what it
    did not load with it, its PBX or memberships, is read now), or else as the database has it. Raises PbxError
    (the task decides about retrying)."""
    if agent is None:
        agent = Agent.objects.select_related("pbx", "pause_reason").get(pk=agent_id)
    prefetch_related_objects([agent], MEMBERSHIPS)  # unless they came with it
    with command_backend(agent.pbx) as backend:
        _push(backend, agent)
    agent_record_sync(agent=agent, state=SyncState.APPLIED, request_seq=request_seq)


def membership_push(*, pbx_id: int, queue: str, extension: str, present: bool) -> None:
    """Add a member to one queue (when its agent is signed in) or take it out."""
    pbx = PbxServer.objects.get(pk=pbx_id)
    if not present:
        with command_backend(pbx) as backend:
            backend.member_remove(queue=queue, extension=extension)
        return
    agent = Agent.objects.select_related("pause_reason").filter(pbx_id=pbx_id, extension=extension).first()
    if agent is None or agent.availability == Availability.LOGGED_OUT:
        return  # joins the queue when the agent signs in
    penalty = agent.memberships.filter(queue__name=queue).values_list("penalty", flat=True).first() or 0
    with command_backend(pbx) as backend:
        backend.member_add(
            queue=queue,
            extension=extension,
            name=agent.display_name,
            penalty=penalty,
            paused=agent.availability == Availability.ON_BREAK,
            reason=_reason(agent),
        )


def membership_changed(*, membership: QueueMembership, present: bool) -> None:
    """A supervisor added or removed a membership: follow it on the PBX once the change is committed."""
    from telephony import tasks

    task = tasks.apply_member_add if present else tasks.apply_member_remove
    args = (membership.queue.pbx_id, membership.queue.name, membership.agent.extension)
    transaction.on_commit(lambda: tasks.enqueue(task, *args, key=membership.agent.extension))


def pbx_record_problem(*, pbx_id: int, problem: str) -> None:
    """A command or a reconciliation that failed for good: shown on the PBX server in the admin."""
    log.warning("PBX %s: %s", pbx_id, problem)
    PbxServer.objects.filter(pk=pbx_id).update(drift=f"{timezone.now():%Y-%m-%d %H:%M:%S} {problem}")


def pbx_reconcile(*, pbx_id: int) -> list[str]:
    """Compare what we asked for with what the PBX shows, repair the difference, and say what was found.

    Runs every poll interval and after every listener (re)connect, so no
    single lost event or failed command can leave an agent wrong for long.
    """
    pbx = PbxServer.objects.get(pk=pbx_id)
    agents = list(Agent.objects.filter(pbx=pbx).select_related("pause_reason").prefetch_related(MEMBERSHIPS))
    found, adoptions = [], []
    with command_backend(pbx) as backend:
        snapshot = backend.snapshot()
        for agent in agents:
            queues = [seat.queue for seat in _seats(agent)]
            if not queues:
                continue
            missing = [q for q in queues if q not in snapshot.queues]
            if missing:
                found.append(f"{agent.extension}: queue {', '.join(missing)} does not exist on the PBX")
                continue
            observed = backend.observed_availability(snapshot, agent.extension, queues)
            wanted = _reason(agent)
            if observed and observed.availability == agent.availability and observed.reason in (None, wanted):
                if agent.sync_state != SyncState.APPLIED:
                    agent_record_sync(agent=agent, state=SyncState.APPLIED)
                continue
            shown = f"{observed.availability} {observed.reason or ''}".strip() if observed else "mixed"
            if _made_by_pbx(agent, observed, timezone.now()):
                adoptions.append(_adoption(agent, observed))
                found.append(f"{agent.extension}: the PBX set {shown}, taken as the agent's")
                continue
            if pbx.kind == PbxKind.FREESWITCH and agent.extension not in snapshot.agents:
                shown = "no such agent"  # the push below creates it (FreeswitchBackend.set_availability)
            found.append(f"{agent.extension}: PBX shows {shown}, wanted {agent.availability} {wanted}".strip())
            try:
                _push(backend, agent)
            except PbxError as exc:
                found[-1] += f" (repair failed: {exc.message})"
                agent_record_sync(agent=agent, state=SyncState.FAILED, error=exc.message)
                if exc.retryable:
                    raise
                continue
            agent_record_sync(agent=agent, state=SyncState.APPLIED)
        agent_services.agents_adopt_status(adoptions=adoptions)
        snapshot = backend.snapshot() if found else snapshot
        try:
            found += [f"routing: {change}" for change in _routing_repair(backend, routing_wanted(pbx=pbx))]
        except PbxError as exc:
            found.append(f"routing: repair failed: {exc.message}")
            if exc.retryable:
                raise
    pbx_apply_snapshot(pbx_id=pbx.pk, snapshot=snapshot, agents=agents)
    PbxServer.objects.filter(pk=pbx.pk).update(last_reconciled_at=timezone.now(), drift="\n".join(found))
    if found:
        log.warning("PBX %s: reconciliation found %s", pbx.name, "; ".join(found))
    return found


def pbx_check(*, pbx: PbxServer) -> Snapshot:
    """Connect, log in, ping and take a snapshot: the 'Test connection' of the admin and `pbx_check`."""
    with backend_for(pbx) as backend:
        backend.ping()
        return backend.snapshot()


# ---- routing data --------------------------------------------------------------------------------------


def _routing_repair(backend: PbxBackend, wanted: dict[str, str]) -> list[str]:
    """Make the PBX's routing entries what they should be, writing only what differs; say what was written."""
    held = backend.routing_read()
    changes = []
    for key, value in sorted(wanted.items()):
        if held.get(key) != value:
            backend.routing_put(key, value)
            changes.append(f"{key} = {value}" if key in held else f"{key} set to {value}")
    for key in sorted(held.keys() - wanted.keys()):
        backend.routing_delete(key)
        changes.append(f"{key} removed")
    return changes


def routing_sync(*, pbx_id: int) -> list[str]:
    """Push this PBX's routing data now (what differs only). Raises PbxError: the task decides about retrying."""
    pbx = PbxServer.objects.get(pk=pbx_id)
    with command_backend(pbx) as backend:
        return _routing_repair(backend, routing_wanted(pbx=pbx))


_pending = threading.local()  # PBX ids whose routing data changed in this thread's transaction; None: every PBX


def routing_changed(*, pbx_ids: Iterable[int] | None = None) -> None:
    """Routing data changed (a DID, trunk, route or an agent's default DID): push it to these PBXs, or to every
    enabled one, once the change is committed: every call registers, the first to run pushes what all of them
    named, the rest find nothing. (Names left by a transaction that rolled back only cost a push that finds
    nothing to change: the push reads the PBX's entries and writes what differs.)"""
    pending = getattr(_pending, "pbx_ids", set())
    _pending.pbx_ids = None if pending is None or pbx_ids is None else pending | set(pbx_ids)
    transaction.on_commit(_routing_push)


def _routing_push() -> None:
    from telephony import tasks

    named, _pending.pbx_ids = getattr(_pending, "pbx_ids", set()), set()
    if named == set():
        return
    ids = PbxServer.objects.filter(enabled=True).values_list("pk", flat=True)
    for pbx_id in ids if named is None else ids.filter(pk__in=named):
        tasks.enqueue(tasks.apply_routing, pbx_id, key=f"routing-{pbx_id}")


# ---- click-to-call -------------------------------------------------------------------------------------


def call_request(*, user, agent: Agent, number: str, did, idempotency_key: str) -> tuple[CallRequest, bool]:
    """Record a click-to-call and place it once committed; the same key from the same user gives the same call.

    Returns the call and whether it is new.
    """
    from telephony import tasks

    with transaction.atomic():
        call, created = CallRequest.objects.get_or_create(
            requested_by=user,
            idempotency_key=idempotency_key,
            defaults={
                "pbx_id": agent.pbx_id,
                "agent": agent,
                "extension": agent.extension,
                "number": number,
                "did": did,
            },
        )
        if created:
            transaction.on_commit(lambda: tasks.enqueue(tasks.place_call, str(call.pk), key=agent.extension))
    return call, created


def call_place(*, call_id: str) -> None:
    """Ring the agent, then dial the number: once only. The row is claimed (requested → ringing) before anything
    is sent, so a task run again (a retry, a redelivery after a worker died) never places a second call.
    Raises PbxError when the PBX cannot be reached: nothing was sent, the row is requested again."""
    call = CallRequest.objects.select_related("pbx", "did").get(pk=call_id)
    claimed = CallRequest.objects.filter(pk=call.pk, state=CallState.REQUESTED)
    if not claimed.update(state=CallState.RINGING, updated_at=timezone.now()):
        return
    backend = backend_for(call.pbx, calls=True)
    try:
        backend.open()
    except PbxError:
        CallRequest.objects.filter(pk=call.pk, state=CallState.RINGING).update(state=CallState.REQUESTED)
        raise
    try:
        result = backend.originate(
            call_id=str(call.pk), extension=call.extension, number=call.number, did=call.did.number if call.did else ""
        )
    except PbxError as exc:  # sent, or maybe sent: never again
        result = Originated(False, error=exc.message)
    finally:
        backend.close()
    call_record(call_id=call.pk, result=result)


def calls_expire() -> int:
    """A call still ringing long after the PBX must have answered was lost with the worker placing it: say so."""
    stale = timezone.now() - timedelta(seconds=RING_SECONDS + 60)
    return CallRequest.objects.filter(state=CallState.RINGING, updated_at__lt=stale).update(
        state=CallState.FAILED,
        error="the outcome was lost: the worker placing the call stopped",
        updated_at=timezone.now(),
    )


def call_record(*, call_id, result: Originated) -> None:
    if result.answered:
        fields = {"state": CallState.ANSWERED, "pbx_call_id": result.call_id[:64], "error": ""}
    else:
        fields = {"state": CallState.FAILED, "error": result.error[:2000]}
    CallRequest.objects.filter(pk=call_id).update(**fields, updated_at=timezone.now())
