"""PBX work for Celery workers: thin wrappers that take ids and call services.

Commands retry with exponential backoff while the PBX is unreachable; a
refusal (bad credentials, unknown agent) fails at once. Either way the result
is recorded on the agent where supervisors see it. Run inline (eager, the
embedded default) a command is tried once, on a thread of its own after the
request has its answer: the next reconciliation, which runs every poll
interval, is its retry.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from celery import shared_task
from django.conf import settings
from django.db import close_old_connections

from agents.models import Agent, SyncState
from telephony import services
from telephony.models import PbxServer
from telephony.pbx import base
from telephony.pbx.base import Originated, PbxError

RETRY = {"bind": True, "max_retries": 8, "acks_late": True}


class Lanes:
    """Inline commands off the request: a PBX that is slow or hangs never holds a page or an API call.
    Each key (an extension) always runs on the same thread, so one agent's requests reach the PBX in the
    order they were made; other agents go on meanwhile on the other threads. Each thread keeps its PBX
    connections between commands, and closes those left idle (`telephony.pbx.base.close_kept`)."""

    def __init__(self, count: int = 4) -> None:
        self.count, self.pid, self.threads, self.lock = count, None, [], threading.Lock()

    def submit(self, key: str, fn, *args) -> None:
        with self.lock:
            if self.pid != os.getpid():  # new, or a forked process: the parent's threads do not exist here
                self.pid = os.getpid()
                self.threads = [
                    ThreadPoolExecutor(1, thread_name_prefix=f"pbx-lane-{n}", initializer=base.keep_connections)
                    for n in range(self.count)
                ]
                idle = threading.Thread(target=self._close_idle, args=(self.threads,), name="pbx-idle", daemon=True)
                idle.start()
        # The web server's event loop, when the request runs on it (daphne): what the command announces must
        # be sent from there, since the in-memory channel layer's queues belong to that loop.
        home = (getattr(SyncToAsync.threadlocal, "main_event_loop", None), os.getpid())
        self.threads[zlib.crc32(key.encode()) % len(self.threads)].submit(self._run, home, fn, args)

    @staticmethod
    def _close_idle(threads: list[ThreadPoolExecutor]) -> None:
        while True:
            time.sleep(base.KEEP_IDLE_SECONDS)
            try:
                for thread in threads:
                    thread.submit(base.close_kept, base.KEEP_IDLE_SECONDS)
            except RuntimeError:  # the interpreter is shutting down
                return

    @staticmethod
    def _run(home, fn, args) -> None:
        SyncToAsync.threadlocal.main_event_loop, SyncToAsync.threadlocal.main_event_loop_pid = home
        close_old_connections()
        try:
            fn(*args)
        finally:
            close_old_connections()


LANES = Lanes()


def enqueue(task, *args, key: str, inline: dict | None = None) -> None:
    """Send a task to the workers, or inline (eager) to the lane of `key` (an extension, a customer's number):
    one key's tasks run in the order they were asked for. `inline`: keyword arguments for the inline run only,
    objects of this process the workers read from the database instead."""
    if task.app.conf.task_always_eager:
        LANES.submit(key, task.apply, args, inline)
    else:
        task.delay(*args)


def _retry_delay(retries: int) -> int:
    return min(2**retries, 30)


def _give_up(task, exc: PbxError) -> bool:
    return not exc.retryable or task.request.is_eager or task.request.retries >= task.max_retries


@shared_task(**RETRY, expires=300)
def apply_agent_status(self, agent_id: int, request_seq: int | None = None, agent: Agent | None = None) -> None:
    """Carry out an agent's availability (Available / On Break / Logged Out) on its PBX. `agent`: inline, the
    agent as the request left it."""
    try:
        services.agent_push_availability(agent_id=agent_id, request_seq=request_seq, agent=agent)
    except PbxError as exc:
        agent = agent or Agent.objects.get(pk=agent_id)
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


@shared_task(**RETRY, expires=300)
def apply_routing(self, pbx_id: int) -> None:
    """Push a PBX's routing data (what differs only); a PBX that stays away gets it at its next reconciliation."""
    try:
        services.routing_sync(pbx_id=pbx_id)
    except PbxError as exc:
        if _give_up(self, exc):
            services.pbx_record_problem(pbx_id=pbx_id, problem=f"routing: {exc.message}")
            return
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries)) from exc


@shared_task(bind=True, max_retries=4, acks_late=True, expires=120)
def place_call(self, call_id: str) -> None:
    """A click-to-call. Retried only while the PBX cannot be reached (nothing was sent); never once sent."""
    try:
        services.call_place(call_id=call_id)
    except PbxError as exc:
        if _give_up(self, exc):
            services.call_record(call_id=call_id, result=Originated(False, error=exc.message))
            return
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries)) from exc


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
    services.calls_expire()
