"""Websocket routes, and token authentication for clients that do not carry a session cookie."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.urls import path
from rest_framework.authtoken.models import Token

from agents.consumers import StatusConsumer


@database_sync_to_async
def _token_user(key: str):
    from django.contrib.auth.models import AnonymousUser

    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token is not None and token.user.is_active else AnonymousUser()


class TokenAuthMiddleware:
    """`Authorization: Token <key>` header, or `?token=<key>` for clients that cannot set headers.

    A token that is given but wrong makes the user anonymous even with a
    session cookie, so the consumer refuses it rather than guessing.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        key = ""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                kind, _, rest = value.decode("latin-1").partition(" ")
                key = rest.strip() if kind.lower() == "token" else ""
        if not key:
            key = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [""])[0]
        if key:
            scope = dict(scope, user=await _token_user(key), token=key)
        return await self.app(scope, receive, send)


websocket_urlpatterns = [path("ws/status/", StatusConsumer.as_asgi())]
