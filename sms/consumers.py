"""`/ws/sms/`: text messages as they are sent, reported on and received, for the SMS pages.

Messages: `{"type": "messages", "messages": [...]}` (sms.selectors.message_document) whenever messages change,
each passed only to whom may see it: supervisors every message, an agent those of the threads they took part
in. Agents and supervisors only: others are closed with 4403 (4401 when not signed in). Access is read again
when the broadcaster says rights changed, and every REJOIN_SECONDS (a token expires).
"""

from __future__ import annotations

from agents.consumers import WatchingConsumer
from agents.live import SMS_GROUP, STATUS_GROUP, MessagesChanged
from agents.selectors import connected_user
from sms.selectors import sms_access


def sms_viewer(*, user_id: int, token: str | None, session_key: str | None) -> bool | None:
    """Whether a connected user (agents.selectors.connected_user) sees every thread (supervisors) or only their
    own (agents); None when they may not open the SMS pages."""
    user = connected_user(user_id=user_id, token=token, session_key=session_key)
    return None if user is None else sms_access(user)


class SmsConsumer(WatchingConsumer):
    groups_watched = (SMS_GROUP, STATUS_GROUP)  # the status group only for its access messages
    viewer = staticmethod(sms_viewer)  # watching: True for every thread, False for the agent's own

    async def sms_messages(self, message: MessagesChanged) -> None:
        if self.watching is None:
            return
        shown = [
            {key: value for key, value in doc.items() if key != "viewers"}
            for doc in message["messages"]
            if self.watching or self.user_id in doc["viewers"]
        ]
        if shown:
            await self.send_json({"type": "messages", "messages": shown})

    async def status_agents(self, message: dict) -> None:
        """Agents' status: not shown here."""
