"""PBX work for Celery workers: thin wrappers that take ids and call services.

Commands retry with exponential backoff while the PBX is unreachable; a
refusal (bad credentials, unknown agent) fails at once. Either way the result
is recorded on the agent where supervisors see it. Run inline (eager, the
embedded default) a command is tried once: the next reconciliation, which
runs every poll interval, is its retry.
"""

from __future__ import annotations

import functools

from celery import shared_task
from django.conf import settings

from agents.models import Agent, SyncState
from telephony import services
from telephony.models import PbxServer
from telephony.pbx.base import PbxError

RETRY = {"bind": True, "max_retries": 8, "acks_late": True}


def _retry_delay(retries: int) -> int:
    return min(2**retries, 30)


def _give_up(task, exc: PbxError) -> bool:
    return not exc.retryable or task.request.is_eager or task.request.retries >= task.max_retries


@shared_task(**RETRY, expires=300)
def apply_agent_status(self, agent_id: int, request_seq: int | None = None) -> None:
    """Carry out an agent's availability (Available / On Break / Logged Out) on its PBX."""
    try:
        services.agent_push_availability(agent_id=agent_id, request_seq=request_seq)
    except PbxError as exc:
        agent = Agent.objects.get(pk=agent_id)
        record = functools.partial(services.agent_record_sync, agent=agent, request_seq=request_seq)
        if _give_up(self, exc):
            state = SyncState.PENDING if exc.retryable else SyncState.FAILED
            note = " (will retry at the next reconciliation)" if exc.retryable else ""
            record(state=state, error=exc.message + note)
            return
        record(state=SyncState.PENDING, error=f"{exc.message} (retrying)")
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries)) from exc


@shared_task(**RETRY, expires=300)
def apply_member_add(self, pbx_id: int, queue: str, extension: str) -> None:
    _member(self, pbx_id, queue, extension, present=True)


@shared_task(**RETRY, expires=300)
def apply_member_remove(self, pbx_id: int, queue: str, extension: str) -> None:
    _member(self, pbx_id, queue, extension, present=False)


def _member(task, pbx_id: int, queue: str, extension: str, *, present: bool) -> None:
    try:
        services.membership_push(pbx_id=pbx_id, queue=queue, extension=extension, present=present)
    except PbxError as exc:
        if _give_up(task, exc):
            services.pbx_record_problem(pbx_id=pbx_id, problem=f"{queue}/{extension}: {exc.message}")
            return
        raise task.retry(exc=exc, countdown=_retry_delay(task.request.retries)) from exc


@shared_task(expires=settings.MAYDAY_POLL_SECONDS * 2 / 3)
def poll_pbx(pbx_id: int) -> list[str]:
    """Reconcile one PBX: repair or flag drift between what was asked and what it shows."""
    try:
        return services.pbx_reconcile(pbx_id=pbx_id)
    except PbxError as exc:
        services.pbx_record_problem(pbx_id=pbx_id, problem=f"reconciliation failed: {exc.message}")
        return []


@shared_task(expires=settings.MAYDAY_POLL_SECONDS * 2 / 3)
def poll_all_pbxs() -> None:
    for pbx_id in PbxServer.objects.filter(enabled=True).values_list("pk", flat=True):
        poll_pbx.delay(pbx_id)
