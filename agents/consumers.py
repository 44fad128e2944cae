"""`/ws/status/`: a snapshot of every agent the user may see, then one numbered message per change.

Messages: `{"type": "snapshot", "seq": n, "agents": [...]}` on connect and
whenever the client sends `{"type": "snapshot"}` (after it notices a gap in
`seq`), and `{"type": "changes", "seq": n, "agents": [...]}`. Supervisors get
full status documents; an agent gets their own in full and the others'
board fields only. Who may see what is re-read from the database at most
every RECHECK_SECONDS, so a deactivated user or a revoked role is cut off.
"""

from __future__ import annotations

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents import live
from agents.models import Agent
from agents.selectors import board_viewer, public_document, status_documents

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
RECHECK_SECONDS = 5.0


@database_sync_to_async
def _snapshot() -> list[dict]:
    return status_documents(agents=Agent.objects.all())


class StatusConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()  # accept first so the client sees why it is closed (a 4xxx code)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id, self.seq, self.checked_at = user.pk, 0, 0.0
        if not await self._allowed(force=True):
            return
        await live.join(self.channel_name)
        self.joined = True
        await self._send_snapshot()

    async def disconnect(self, code) -> None:
        if getattr(self, "joined", False):
            await live.leave(self.channel_name)

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return None  # not JSON: ignored like any other message it does not understand

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "snapshot" and await self._allowed():
            await self._send_snapshot()

    async def status_agents(self, message: live.AgentsChanged) -> None:
        if await self._allowed():
            await self._send("changes", [self._visible(doc) for doc in message["agents"]])

    async def _allowed(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self.checked_at > RECHECK_SECONDS:
            viewer = await database_sync_to_async(board_viewer)(user_id=self.user_id)
            if viewer is None:
                await self.close(code=CLOSE_FORBIDDEN)
                return False
            self.supervisor, self.own_extension = viewer
            self.checked_at = now
        return True

    def _visible(self, doc: dict) -> dict:
        return doc if self.supervisor or doc["extension"] == self.own_extension else public_document(doc)

    async def _send_snapshot(self) -> None:
        await self._send("snapshot", [self._visible(doc) for doc in await _snapshot()])

    async def _send(self, kind: str, agents: list[dict]) -> None:
        self.seq += 1
        await self.send_json({"type": kind, "seq": self.seq, "agents": agents})
