"""The long-lived PBX event listener: one stream per enabled PbxServer.

Each stream connects, logs in, subscribes, takes a full snapshot and applies
it, and only then applies the events that follow (the ones that arrived
during the snapshot included). It pings to catch half-open connections, and
on any failure records it and reconnects with capped exponential backoff and
jitter. Events are applied in batches by one writer per stream: whatever
arrived while the last batch was being written becomes the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import random

from asgiref.sync import sync_to_async
from celery.utils.imports import symbol_by_name
from django.conf import settings

from telephony import services
from telephony.models import ConnectionState, PbxKind
from telephony.pbx import events as ev
from telephony.pbx.asterisk import ami_event, ami_manager, ami_snapshot
from telephony.pbx.base import PbxError
from telephony.pbx.freeswitch import EslConnection, esl_event, esl_snapshot

log = logging.getLogger(__name__)

PING_EVERY = 10.0
PING_TIMEOUT = 5.0
BACKOFF_MAX = 30.0


def backoff(attempt: int, cap: float = BACKOFF_MAX) -> float:
    """Exponential (1, 2, 4 … s) with full jitter, capped."""
    return random.uniform(0.5, 1.0) * min(cap, 2.0**attempt)  # noqa: S311 (jitter, not secrecy)


class Stream:
    """One PBX: connect, resync, follow events, and start over when anything breaks."""

    def __init__(self, pbx, *, ping_every: float = PING_EVERY, on_resync=None) -> None:
        self.pbx = pbx
        self.ping_every = ping_every
        self.on_resync = on_resync  # awaited after each successful resync (the listener reconciles there)
        self.queue: asyncio.Queue[ev.Event] = asyncio.Queue()
        self.live = False
        self.buffer: list[ev.Event] = []
        self.applied = 0
        self.resyncs = 0

    def take(self, event: ev.Event | None) -> None:
        if event is None:
            return
        if self.live:
            self.queue.put_nowait(event)
        else:
            self.buffer.append(event)

    async def run(self) -> None:
        writer = asyncio.get_running_loop().create_task(self._write())
        attempt = 0
        try:
            while True:
                resyncs = self.resyncs
                try:
                    await self._session()
                    error = "connection closed by the PBX"
                except PbxError as exc:
                    error = exc.message
                except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                self.live = False
                if self.resyncs > resyncs:  # it had been working: start the backoff over
                    attempt = 0
                state = ConnectionState.DISCONNECTED if attempt == 0 else ConnectionState.ERROR
                await sync_to_async(services.pbx_record_connection)(pbx_id=self.pbx.pk, state=state, error=error)
                delay = backoff(attempt)
                log.warning("PBX %s: %s; reconnecting in %.1fs", self.pbx.name, error, delay)
                attempt += 1
                await asyncio.sleep(delay)
        finally:
            writer.cancel()

    async def _session(self) -> None:
        self.live, self.buffer = False, []
        if self.pbx.kind == PbxKind.ASTERISK:
            await self._ami()
        else:
            await self._esl()

    async def _resynced(self, snapshot) -> None:
        """Apply the snapshot, then the events that came in meanwhile, then go live."""
        await sync_to_async(services.pbx_apply_snapshot)(pbx_id=self.pbx.pk, snapshot=snapshot)
        for event in self.buffer:
            self.queue.put_nowait(event)
        self.buffer, self.live = [], True
        self.resyncs += 1
        await sync_to_async(services.pbx_record_connection)(pbx_id=self.pbx.pk, state=ConnectionState.CONNECTED)
        log.info("PBX %s: connected and resynced (%d members)", self.pbx.name, len(snapshot.members))
        if self.on_resync:
            await self.on_resync(self)

    async def _ami(self) -> None:
        manager = ami_manager(self.pbx, events=True)
        manager.event_sink = lambda frame: self.take(ami_event(frame))
        await manager.open()
        try:
            await self._resynced(await ami_snapshot(manager))
            await self._follow(manager.closed, lambda: manager.act({"Action": "Ping"}, timeout=PING_TIMEOUT))
        finally:
            manager.close()

    async def _esl(self) -> None:
        conn = EslConnection(on_event=lambda body: self.take(esl_event(body)))
        await conn.open(self.pbx.host, self.pbx.port, self.pbx.secret)
        try:
            reply = await conn.command("event plain CUSTOM callcenter::info")
            if not reply.startswith("+OK"):
                raise PbxError(f"ESL refused the event subscription: {reply}", retryable=True)
            await self._resynced(await esl_snapshot(conn, self.pbx.domain))
            await self._follow(conn.closed, lambda: conn.api("status", timeout=PING_TIMEOUT))
        finally:
            conn.close()

    async def _follow(self, closed: asyncio.Future, ping) -> None:
        """Wait for the connection to close; a ping left unanswered means it is half-open."""
        while True:
            done, _ = await asyncio.wait([closed], timeout=self.ping_every)
            if done:
                return
            try:
                await ping()
            except PbxError as exc:
                raise PbxError(f"no answer to ping, connection dropped ({exc.message})", retryable=True) from exc

    async def _write(self) -> None:
        apply = sync_to_async(services.pbx_apply_events)
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await apply(pbx_id=self.pbx.pk, events=batch)
            except Exception:
                log.exception("PBX %s: could not apply %d events", self.pbx.name, len(batch))
            self.applied += len(batch)


async def reconcile(stream: Stream) -> None:
    """After a (re)connect, repair whatever drifted while we were away (a worker does it, or inline when eager)."""
    from telephony.tasks import poll_pbx

    await sync_to_async(poll_pbx.delay)(stream.pbx.pk)


async def listen(pbxs, *, beat: bool = False) -> None:
    """Run a stream per PBX; with `beat`, also run Celery beat's schedule in this process (inline tasks)."""
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(Stream(pbx, on_resync=reconcile).run()) for pbx in pbxs]
    if beat:
        tasks += [
            loop.create_task(_every(entry["schedule"], entry["task"]))
            for entry in settings.CELERY_BEAT_SCHEDULE.values()
        ]
    await asyncio.gather(*tasks)


async def _every(seconds: float, task_name: str) -> None:
    """One beat entry, run inline: the embedded setup has no Celery beat."""
    task = symbol_by_name(task_name)
    while True:
        await asyncio.sleep(seconds)
        try:
            await sync_to_async(task)()
        except Exception:
            log.exception("periodic task %s failed", task_name)
