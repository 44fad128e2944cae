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

from agents.consumers import WatchingConsumer
from agents.live import STATUS_GROUP, WALLBOARD_GROUP
from reporting.wallboard import may_watch, wallboard_queues

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.5


def wallboard_viewer(*, user_id: int, token: str | None, session_key: str | None) -> bool | None:
    return True if may_watch(user_id=user_id, token=token, session_key=session_key) else None


class WallboardConsumer(WatchingConsumer):
    groups_watched = (WALLBOARD_GROUP, STATUS_GROUP)
    viewer = staticmethod(wallboard_viewer)
    refresh: asyncio.Task | None = None
    dirty, last = False, 0.0  # a change owed to the page; when the figures were last read (loop time)

    async def started(self) -> None:
        self.dirty, self.last = False, asyncio.get_running_loop().time()
        await self.send_json({"type": "snapshot", "queues": await database_sync_to_async(wallboard_queues)()})

    async def disconnect(self, code) -> None:
        if self.refresh is not None:
            self.refresh.cancel()
        await super().disconnect(code)

    async def wallboard_queues(self, message: dict) -> None:
        self._changed()

    async def status_agents(self, message: dict) -> None:
        self._changed()

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
