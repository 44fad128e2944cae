"""Reads about the phone system."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from agents.models import Agent
from telephony.models import CallRequest, Did, InboundRoute, OutboundRoute, PbxServer, PrefixRoute, Queue
from telephony.pbx import routing
from telephony.pbx.base import Snapshot
from telephony.phone import spellings


def queues_visible_to(*, user) -> QuerySet[Queue]:
    """Supervisors see every queue; an agent sees the queues they are a member of."""
    queues = Queue.objects.select_related("pbx")
    if user.has_perm("telephony.view_queue"):
        return queues
    return queues.filter(memberships__agent__user=user) if user.is_authenticated else queues.none()


def pbxs_enabled(*, names: list[str] | None = None) -> list[PbxServer]:
    """The PBX servers to follow: every enabled one, or only those named."""
    pbxs = PbxServer.objects.filter(enabled=True)
    return list(pbxs.filter(name__in=names) if names else pbxs)


def queue_choices() -> list[tuple[str, str]]:
    """Every queue as a filter choice: value `pbx/queue`, label `queue (pbx)`, so the same name on two PBXs
    stays two choices."""
    rows = Queue.objects.order_by("name", "pbx__name").values_list("name", "pbx__name")
    return [(f"{pbx}/{name}", f"{name} ({pbx})") for name, pbx in rows]


def routing_wanted(*, pbx: PbxServer) -> dict[str, str]:
    """The routing data this PBX should hold (telephony.pbx.routing), from the agents' default DIDs, the
    prefixes, the outbound routes through enabled trunks and the inbound routes of DIDs open to calls in (each
    under every spelling of its number a trunk may use)."""
    entries = {
        routing.key("default_did", extension): number
        for extension, number in Agent.objects.filter(pbx=pbx, default_did__allow_outbound=True).values_list(
            "extension", "default_did__number"
        )
    }
    for prefix, number in PrefixRoute.objects.filter(pbx=pbx, did__allow_outbound=True).values_list(
        "prefix", "did__number"
    ):
        entries[routing.key("prefix", prefix)] = number
    for route in OutboundRoute.objects.filter(pbx=pbx, trunk__enabled=True).select_related("trunk", "did"):
        entries[routing.key("route", route.match or routing.ANY)] = route.entry().value()
    for route in InboundRoute.objects.filter(pbx=pbx, did__allow_inbound=True).select_related("did", "queue", "agent"):
        for number in spellings(route.did.number):  # however the trunk writes the number called
            entries[routing.key("inbound", number)] = route.value()
    return entries


def dids_visible_to(*, user) -> QuerySet[Did]:
    """Supervisors see every DID; anyone else signed in, the DIDs their calls may present (open to outbound)."""
    if user.has_perm("telephony.view_did"):
        return Did.objects.all()
    return Did.objects.filter(allow_outbound=True) if user.is_authenticated else Did.objects.none()


def calls_visible_to(*, user) -> QuerySet[CallRequest]:
    """Supervisors see every click-to-call; an agent, the calls of their own extension and those they asked for."""
    calls = CallRequest.objects.all()
    if user.has_perm("telephony.view_callrequest"):
        return calls
    return calls.filter(Q(agent__user=user) | Q(requested_by=user)) if user.is_authenticated else calls.none()


def snapshot_lines(*, pbx: PbxServer, snap: Snapshot) -> list[str]:
    """A short, readable account of a PBX snapshot (pbx_check and the admin's Test connection)."""
    lines = [f"{pbx.name}: {pbx.get_kind_display()} at {pbx.host}:{pbx.port} answers; {len(snap.queues)} queue(s)"]
    for queue in snap.queues:
        members = [m for m in snap.members if m.queue == queue]
        lines.append(f"  {queue}: {len(members)} member(s)")
        for m in members:
            paused = f"paused ({m.reason})" if m.paused and m.reason else "paused" if m.paused else "ready"
            lines.append(f"    {m.extension}: {paused}, {m.device_state or 'unknown'}, {m.calls_taken} call(s)")
    for ext, (status, state) in sorted(snap.agents.items()):
        lines.append(f"  agent {ext}: {status} / {state}")
    if snap.has_sip:
        lines.append(f"  SIP: {len(snap.endpoints)} endpoint(s), {len(snap.contacts)} contact(s)")
        lines.extend(f"    {c.endpoint} {c.uri} {c.status}" for c in snap.contacts)
    return lines
