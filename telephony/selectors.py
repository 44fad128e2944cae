"""Reads about the phone system."""

from __future__ import annotations

from django.db.models import QuerySet

from telephony.models import Did, PbxServer, Queue
from telephony.pbx.base import Snapshot


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


def dids_all() -> QuerySet[Did]:
    return Did.objects.all()


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
