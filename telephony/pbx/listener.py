"""The long-lived PBX event listener: one stream per enabled PbxServer, following the PBX list as it changes.

Every PBX_LIST_SECONDS the listener reads the enabled PBXs again: a PBX added or enabled gets a stream, one
disabled or deleted has its stream stopped (socket closed, state shown as disconnected), and one whose
connection settings changed (see `fingerprint`) is connected again with the new values. Reading the database
works across processes, so `pbx_listen` follows what the admin changes without any signal between them.

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
import time
from dataclasses import replace

from asgiref.sync import sync_to_async
from celery.utils.imports import symbol_by_name
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from mayday import process
from reporting.services import calls_record
from telephony import services
from telephony.models import ConnectionState, PbxKind
from telephony.pbx import events as ev
from telephony.pbx.asterisk import EVENT_MASK, ami_event, ami_manager, ami_snapshot
from telephony.pbx.base import PbxError
from telephony.pbx.freeswitch import EVENT_SUBSCRIPTION, EslConnection, esl_event, esl_snapshot
from telephony.selectors import pbxs_enabled

log = logging.getLogger(__name__)

PING_EVERY = 10.0
PING_TIMEOUT = 5.0
BACKOFF_MAX = 30.0
DRAIN_SECONDS = 5.0
PBX_LIST_SECONDS = 2.0  # how often the PBX list is read again: a change shows within this


def fingerprint(pbx) -> tuple:
    """What a connection is made of: when any of it changes, the stream connects again with the new values."""
    return (pbx.kind, pbx.host, pbx.port, pbx.username, pbx.secret, pbx.domain)


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
        self.fingerprint = fingerprint(pbx)
        self.task: asyncio.Task | None = None

    def start(self) -> Stream:
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"pbx-{self.pbx.name}")
        return self

    async def stop(self) -> None:
        """Cancel the stream wherever it is (connected, connecting, backing off) and wait until its socket is closed."""
        process.stop(self.task)
        await asyncio.gather(self.task, return_exceptions=True)

    def take(self, event: ev.Event | None) -> None:
        if event is None:
            return
        if type(event) in ev.CALL_EVENTS and not event.at:  # a call event without its own time: it happened now
            event = replace(event, at=time.time())
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
                except (OSError, TimeoutError) as exc:
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
            await asyncio.gather(writer, return_exceptions=True)
            await _drained()

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
        manager = ami_manager(self.pbx, events=EVENT_MASK)
        manager.event_sink = lambda frame: self.take(ami_event(frame))
        try:  # open inside: a stream stopped during the login still closes its socket
            await manager.open()
            await self._resynced(await ami_snapshot(manager))
            await self._follow(manager.closed, lambda: manager.act({"Action": "Ping"}, timeout=PING_TIMEOUT))
        finally:
            manager.close()

    async def _esl(self) -> None:
        conn = EslConnection(on_event=lambda body: self.take(esl_event(body)))
        try:  # open inside: a stream stopped during the login still closes its socket
            await conn.open(self.pbx.host, self.pbx.port, self.pbx.secret)
            reply = await conn.command(EVENT_SUBSCRIPTION)
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
        apply = sync_to_async(_apply)
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await apply(pbx_id=self.pbx.pk, events=batch)
            except Exception:
                log.exception("PBX %s: could not apply %d events", self.pbx.name, len(batch))
            self.applied += len(batch)


def _apply(*, pbx_id: int, events: list[ev.Event]) -> None:
    """One batch: the agents' and members' state, then the calls it tells of (for reports and the wallboard)."""
    try:
        services.pbx_apply_events(pbx_id=pbx_id, events=events)
    finally:
        calls_record(pbx_id=pbx_id, events=events)


async def _drained(running: set[asyncio.Future] = frozenset()) -> None:
    """Wait until the database work started from this loop is done. A cancelled `sync_to_async` call runs on in its
    thread, and a broadcast there comes back to this loop through `async_to_sync`: were the loop stopped first
    (shutdown, a test's teardown), that thread would wait for ever and the process would hang at exit. The
    streams' calls share one thread, so an empty call queued behind them returns once they have finished; the
    periodic tasks' runs (`running`) are waited for as they are. Bounded: a thread stuck for another reason must
    not keep the listener from stopping."""
    try:
        await asyncio.wait_for(
            asyncio.gather(sync_to_async(_nothing)(), *running, return_exceptions=True), DRAIN_SECONDS
        )
    except TimeoutError:
        log.warning("database work still running after %g s; stopping anyway", DRAIN_SECONDS)


def _nothing() -> None:
    pass


async def reconcile(stream: Stream) -> None:
    """After a (re)connect, repair whatever drifted while we were away (a worker does it, or inline when eager)."""
    from telephony.tasks import poll_pbx

    await sync_to_async(poll_pbx.delay)(stream.pbx.pk)


async def listen(*, names: list[str] | None = None, beat: bool = False) -> None:
    """Follow the enabled PBXs (only those `names`, if given) as the list changes, until cancelled.

    With no PBX to follow it waits for one. With `beat`, also run Celery beat's schedule in this process
    (inline tasks, no Celery beat).
    """
    loop = asyncio.get_running_loop()
    running: set[asyncio.Future] = set()  # the periodic tasks' runs, on threads of their own
    periodic = [
        loop.create_task(_every(entry["schedule"], entry["task"], running))
        for entry in (settings.CELERY_BEAT_SCHEDULE.values() if beat else ())
    ]
    streams: dict[int, Stream] = {}
    try:
        while True:
            try:
                pbxs = await sync_to_async(_pbx_list)(names)
            except Exception:  # the database is away: keep the streams as they are and read again later
                log.exception("could not read the PBX list")
            else:
                await _match(streams, pbxs)
            await asyncio.sleep(PBX_LIST_SECONDS)
    finally:
        for task in periodic:
            task.cancel()
        for pk in list(streams):
            await _let_go(streams, pk)
        await asyncio.gather(*periodic, return_exceptions=True)
        await _drained(running)


def _pbx_list(names: list[str] | None) -> list:
    try:
        return pbxs_enabled(names=names)
    except DatabaseError:
        connection.close()  # a connection broken by a database restart stays broken: the next read opens another
        raise


async def _match(streams: dict[int, Stream], pbxs) -> None:
    """Bring the running streams in line with the PBX list: stop what is gone or changed, start what is new."""
    wanted = {pbx.pk: pbx for pbx in pbxs}
    for pk, stream in list(streams.items()):
        pbx = wanted.get(pk)
        if pbx is None:
            log.info("PBX %s: disabled or deleted; letting it go", stream.pbx.name)
        elif fingerprint(pbx) != stream.fingerprint:
            log.info("PBX %s: connection settings changed; connecting again", pbx.name)
        elif stream.task.done():  # only an unexpected error ends a stream: say so and start it again
            error = None if stream.task.cancelled() else stream.task.exception()
            log.error("PBX %s: the stream ended unexpectedly; starting it again", pbx.name, exc_info=error)
        else:
            continue
        await _let_go(streams, pk)
    for pk, pbx in wanted.items():
        if pk not in streams:
            log.info("PBX %s: following %s at %s:%s", pbx.name, pbx.get_kind_display(), pbx.host, pbx.port)
            streams[pk] = Stream(pbx, on_resync=reconcile).start()


async def _let_go(streams: dict[int, Stream], pk: int) -> None:
    await streams.pop(pk).stop()
    try:  # a deleted PBX has no row left to update: that is fine
        await sync_to_async(services.pbx_record_connection)(pbx_id=pk, state=ConnectionState.DISCONNECTED)
    except Exception:
        log.exception("PBX %s: could not record the disconnection", pk)


async def _every(seconds: float, task_name: str, running: set[asyncio.Future]) -> None:
    """One beat entry, run inline: the embedded setup has no Celery beat. Each run is on a thread of its own, not
    the streams' one: a reconciliation (tens of milliseconds a PBX) never holds the PBX's events back."""
    task = sync_to_async(_beat, thread_sensitive=False)
    while True:
        await asyncio.sleep(seconds)
        run = asyncio.ensure_future(task(task_name))
        running.add(run)
        run.add_done_callback(running.discard)
        try:
            await asyncio.shield(run)  # cancelled (the listener stops): the run goes on, and is waited for
        except Exception:
            log.exception("periodic task %s failed", task_name)


def _beat(task_name: str) -> None:
    close_old_connections()  # a connection the database dropped since the last run is not used again
    try:
        symbol_by_name(task_name)()
    finally:
        close_old_connections()
