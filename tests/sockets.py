"""Websocket clients for the live pages' consumers, in process (channels' WebsocketCommunicator)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from knox.models import AuthToken

from mayday.asgi import application

HEADERS = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]


@sync_to_async
def token_for(user) -> str:
    return AuthToken.objects.create(user=user)[1]


async def connect(path: str, user=None, cookie: bytes | None = None) -> WebsocketCommunicator:
    """Connected to `path` with an API token of `user`, or with a session `cookie`, or as nobody."""
    query = f"?token={await token_for(user)}" if user is not None else ""
    headers = [*HEADERS, (b"cookie", cookie)] if cookie else HEADERS
    ws = WebsocketCommunicator(application, f"{path}{query}", headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    return ws


async def closed_with(ws) -> int:
    """The close code the consumer ended with."""
    message = await ws.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message["code"]
