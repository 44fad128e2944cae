"""`/ws/wallboard/`: every configured queue's figures, now and for today.

Messages: `{"type": "snapshot", "queues": [...]}` on connect, then `{"type": "queues", "queues": [...]}` whenever
calls (group "wallboard") or agents (group "status") change: at most one every COALESCE_SECONDS, the last change
always included. Only for users who may read the reports: others are closed with 4403 (4401 when not signed in).
Access is read again when the broadcaster says rights changed, and every REJOIN_SECONDS (a token expires).
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents import live
from agents.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from agents.live import REJOIN_SECONDS, STATUS_GROUP, WALLBOARD_GROUP, AccessChanged
from reporting.wallboard import may_watch, wallboard_queues

log = logging.getLogger(__name__)

GROUPS = (WALLBOARD_GROUP, STATUS_GROUP)
COALESCE_SECONDS = 0.5


class WallboardConsumer(AsyncJsonWebsocketConsumer):
    watching = joined = False
    refresh: asyncio.Task | None = None
    staying: asyncio.Task | None = None

    async def connect(self) -> None:
        await self.accept()  # accept first so the client sees why it is closed (a 4xxx code)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session")
        self.user_id = user.pk
        self.access = {
            "user_id": user.pk,
            "token": self.scope.get("token"),
            "session_key": session.session_key if session is not None else None,
        }
        if not await self._check_access():
            return
        self.dirty, self.last = False, asyncio.get_running_loop().time()
        await self._join()
        self.staying = asyncio.ensure_future(self._stay())
        await self.send_json({"type": "snapshot", "queues": await database_sync_to_async(wallboard_queues)()})

    async def disconnect(self, code) -> None:
        for task in (self.staying, self.refresh):
            if task is not None:
                task.cancel()
        self.watching = False
        if self.joined:
            for group in GROUPS:
                await live.leave(self.channel_name, group)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Nothing to ask: the board is sent as it changes; whatever a client sends is ignored."""

    async def wallboard_queues(self, message: dict) -> None:
        self._changed()

    async def status_agents(self, message: dict) -> None:
        self._changed()

    async def status_access(self, message: AccessChanged) -> None:
        if self.watching and (message["users"] is None or self.user_id in message["users"]):
            await self._check_access()

    def _changed(self) -> None:
        if self.watching:
            self.dirty = True
            if self.refresh is None:
                self.refresh = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        """Read and send the board until no change is owed, at most once a COALESCE_SECONDS: changes that arrive
        meanwhile are all in the next read."""
        loop = asyncio.get_running_loop()
        try:
            while self.dirty and self.watching:
                await asyncio.sleep(self.last + COALESCE_SECONDS - loop.time())
                self.dirty, self.last = False, loop.time()
                try:
                    queues = await database_sync_to_async(wallboard_queues)()
                except Exception:
                    log.exception("wallboard of user %s: could not read the figures", self.user_id)
                    continue
                if self.watching:
                    await self.send_json({"type": "queues", "queues": queues})
        finally:
            self.refresh = None

    async def _join(self) -> None:
        self.joined = True
        for group in GROUPS:
            await live.join(self.channel_name, group)

    async def _stay(self) -> None:
        """Rejoin before the layer forgets this member, and read access again; a failure is logged and tried
        again next time, it must not silently end the membership."""
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                if await self._check_access():
                    await self._join()
            except Exception:
                log.exception("wallboard of user %s: could not rejoin or check access", self.user_id)

    async def _check_access(self) -> bool:
        self.watching = await database_sync_to_async(may_watch)(**self.access)
        if not self.watching:
            await self.close(code=CLOSE_FORBIDDEN)
        return self.watching
