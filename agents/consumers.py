"""`/ws/status/`: a snapshot of every agent the user may see, then one numbered message per change.

Messages: `{"type": "snapshot", "seq": n, "agents": [...]}` (whole status
documents) on connect and when the client sends `{"type": "snapshot"}`
(after it notices a gap in `seq`; at most one a second, however many it
asks for), and `{"type": "changes", "seq": n, "agents": [...]}`, each agent
with its extension and the fields that changed, or whole (agents.live).
Supervisors get everything; an agent gets their own in full and the others'
board fields only (and nothing of a change to other fields). Who may see what
is read on connect and again whenever the broadcaster says this user's rights
changed (a role, a permission, the account, the agent, the token or the
sign-in session this connection came with), and every ten minutes (a token
expires); a connection whose rights are gone is closed with 4403.

Connections take the groups' messages from this process's hub (agents.live.Hub),
not from a channel-layer channel each.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from weakref import WeakKeyDictionary

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents import live
from agents.models import Agent
from agents.selectors import board_viewer, status_documents

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
SNAPSHOT_SECONDS = 1.0  # the least time between two snapshots one connection asked for


@database_sync_to_async
def _read_snapshot() -> list[live.EncodedDocument]:
    return [live.encoded(doc) for doc in status_documents(agents=Agent.objects.all())]


class SharedSnapshot:
    """Connections that ask together share one read, and each gets a read that began after it asked.

    After a restart every client reconnects at once; one read per wave, not
    one per connection, keeps the database thread free for everything else.
    """

    def __init__(self) -> None:
        self.next: asyncio.Future | None = None  # what those asking now will get
        self.reading: asyncio.Task | None = None

    async def get(self) -> list[live.EncodedDocument]:
        loop = asyncio.get_running_loop()
        if self.next is None:
            self.next = loop.create_future()
        future = self.next
        if self.reading is None:
            self.reading = loop.create_task(self._read())
        return await asyncio.shield(future)

    async def _read(self) -> None:
        while self.next is not None:
            future, self.next = self.next, None  # who asks from here on waits for the next read
            try:
                future.set_result(await _read_snapshot())
            except Exception as exc:
                future.set_exception(exc)
        self.reading = None


_snapshots: WeakKeyDictionary[asyncio.AbstractEventLoop, SharedSnapshot] = WeakKeyDictionary()


async def _snapshot() -> list[live.EncodedDocument]:
    return await _snapshots.setdefault(asyncio.get_running_loop(), SharedSnapshot()).get()


class WatchingConsumer(AsyncJsonWebsocketConsumer):
    """A page kept live from channel-layer groups, for as long as its user may watch it.

    Accepts, then closes 4401 when not signed in and 4403 when `viewer` (a sync function of the user id and the
    token or session the socket came with) gives None; whatever it gives otherwise is `self.watching` (what
    the user may see). The groups' messages come through this process's hubs (agents.live.Hub), to `deliver`,
    then in order to the handler of their type. Access is read again when the broadcaster says rights
    changed, and every REJOIN_SECONDS (a token expires).
    """

    groups_watched: tuple[str, ...] = ()
    waiting_types = ("status.access",)  # the hubs' messages whose handlers wait (on the database); the others never
    viewer = None  # staticmethod(fn(*, user_id, token, session_key)) -> what the user sees, or None
    watching = None
    subscribed = False
    staying: asyncio.Task | None = None

    async def __call__(self, scope, receive, send) -> None:
        """As channels' consumer, but with no channel of its own: the hubs hand it their messages (`deliver`).
        One step at a time (`turn`): a message from the client, or one from a hub."""
        self.scope, self.base_send = scope, send
        self.turn, self.backlog, self.draining = asyncio.Lock(), deque(), None
        try:
            while True:
                message = await receive()
                async with self.turn:
                    await self.dispatch(message)
        except StopConsumer:
            pass
        finally:  # however the connection ends, the hubs stop delivering to it
            await self._leave()

    async def deliver(self, message: dict) -> None:
        """In the hub's task, for each connection in turn. When nothing of this connection's is running, the message
        is handled right here: no task and no queue per connection and message, which is most of what fanning out
        to thousands of connections would cost. Otherwise, or when its handler may wait (reading the database),
        it waits in the backlog, after whatever came before it."""
        if self.backlog or self.turn.locked() or message["type"] in self.waiting_types:
            self.backlog.append(message)
            if self.draining is None:
                self.draining = asyncio.ensure_future(self._drain())
        else:
            async with self.turn:  # free: taken without waiting
                await self.dispatch(message)

    async def _drain(self) -> None:
        try:
            while self.backlog:
                async with self.turn:
                    await self.dispatch(self.backlog.popleft())
        finally:
            self.draining = None

    async def dispatch(self, message: dict) -> None:
        """As channels' own, without closing old database connections before every message: the handlers reach
        the database only through database_sync_to_async, which does that."""
        await getattr(self, get_handler_name(message))(message)

    async def connect(self) -> None:
        await self.accept()  # accept first so the client sees why it is closed (a 4xxx code)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.access = {"user_id": user.pk, "token": self.scope["token"], "session_key": self.scope["session_key"]}
        if not await self._check_access():
            return
        self.subscribed = True
        for group in self.groups_watched:
            await live.hub(group).subscribe(self)
        self.staying = asyncio.ensure_future(self._stay())
        await self.started()

    async def started(self) -> None:
        """Subscribed and watching: send what the page needs first."""

    async def disconnect(self, code) -> None:
        await self._leave()

    async def _leave(self) -> None:
        for task in (self.staying, self.draining):
            if task is not None:
                task.cancel()
        self.watching = None
        if self.subscribed:
            self.subscribed = False
            for group in self.groups_watched:
                await live.hub(group).unsubscribe(self)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Nothing to ask: the page is sent as it changes; whatever a client sends is ignored."""

    async def status_access(self, message: live.AccessChanged) -> None:
        if self.watching is not None and (message["users"] is None or self.user_id in message["users"]):
            await self._check_access()

    async def _stay(self) -> None:
        """Read access again every REJOIN_SECONDS (a token expires); a failure is logged and tried again."""
        while True:
            await asyncio.sleep(live.REJOIN_SECONDS)
            try:
                await self._check_access()
            except Exception:
                log.exception("%s of user %s: could not check access", type(self).__name__, self.user_id)

    async def _check_access(self) -> bool:
        self.watching = await database_sync_to_async(self.viewer)(**self.access)
        if self.watching is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        return True


class StatusConsumer(WatchingConsumer):
    """`watching`: (sees everyone, own extension)."""

    groups_watched = (live.STATUS_GROUP,)
    viewer = staticmethod(board_viewer)
    seq = 0
    snapshot_asked = False
    last_snapshot = float("-inf")
    resending: asyncio.Task | None = None
    held: list[live.AgentsChanged] | None = None  # changes waiting for a snapshot; None: they go out as they come

    async def started(self) -> None:
        self._owe_snapshot()

    async def _leave(self) -> None:
        if self.resending is not None:
            self.resending.cancel()
        await super()._leave()

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if text_data is not None:  # a binary frame is ignored like any message this does not understand
            await super(WatchingConsumer, self).receive(text_data=text_data, **kwargs)

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except (ValueError, RecursionError):
            return None  # not JSON: ignored like any other message it does not understand

    async def receive_json(self, content, **kwargs) -> None:
        """A snapshot on request, at most one a SNAPSHOT_SECONDS per connection: requests that arrive
        meanwhile are answered together by the next one, whatever their number."""
        if isinstance(content, dict) and content.get("type") == "snapshot" and self.watching is not None:
            self._owe_snapshot()

    async def status_agents(self, message: live.AgentsChanged) -> None:
        if self.held is not None:
            self.held.append(message)
        elif self.watching is not None:
            await self._send("changes", message["agents"])

    def _owe_snapshot(self) -> None:
        """Changes wait until the snapshot is sent, so none goes out before an older snapshot."""
        self.snapshot_asked = True
        if self.held is None:
            self.held = []
        if self.resending is None:
            self.resending = asyncio.ensure_future(self._resend())

    async def _resend(self) -> None:
        """Send what is owed, in order: a snapshot asked for (one a SNAPSHOT_SECONDS at most), then the changes
        held since its read began (older ones are in it); it ends only when nothing is owed, with no pause
        between checking and ending."""
        loop = asyncio.get_running_loop()
        try:
            while self.watching is not None and (self.snapshot_asked or self.held):
                if self.snapshot_asked:
                    await asyncio.sleep(self.last_snapshot + SNAPSHOT_SECONDS - loop.time())
                    self.snapshot_asked, self.last_snapshot, self.held = False, loop.time(), []
                    try:
                        docs = await _snapshot()
                    except Exception:
                        log.exception("status connection of user %s: snapshot failed; trying again", self.user_id)
                        self.snapshot_asked = True  # the held changes wait for it: none goes out before
                        continue
                    await self._send("snapshot", docs)
                else:
                    held, self.held = self.held, []
                    await self._send("changes", [doc for message in held for doc in message["agents"]])
            self.held = None
        finally:
            self.resending = None

    async def _send(self, kind: str, docs: list[live.EncodedDocument]) -> None:
        supervisor, own = self.watching
        shown = [doc["full"] if supervisor or doc["extension"] == own else doc["public"] for doc in docs]
        agents = ",".join(doc for doc in shown if doc is not None)
        if agents or kind == "snapshot":
            self.seq += 1
            await self.send(text_data=f'{{"type":"{kind}","seq":{self.seq},"agents":[{agents}]}}')
