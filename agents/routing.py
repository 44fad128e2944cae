"""Websocket routes, who a websocket comes as (an API token, or the sign-in session cookie), and the origin check."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.urls import path
from django.utils.http import is_same_domain

from agents.consumers import StatusConsumer
from agents.selectors import socket_user
from reporting.consumers import WallboardConsumer
from sms.consumers import SmsConsumer


@database_sync_to_async
def _socket_user(token: str | None, session_key: str | None):
    return socket_user(token=token, session_key=session_key) or AnonymousUser()


class SocketAuth:
    """Who a websocket comes as: `Authorization: Token <key>`, or `?token=<key>` for clients that cannot set
    headers, else the sign-in session cookie. Puts `user`, `token` and `session_key` in the scope.

    A token that is given but wrong makes the user anonymous even with a session cookie, so the consumer
    refuses it rather than guessing. Nothing wraps what the consumer sends (a websocket never changes the
    session), so a change fanned out to thousands of sockets costs no session check per socket.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        key, cookies = "", []
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                kind, _, rest = value.decode("latin-1").partition(" ")
                key = rest.strip() if kind.lower() == "token" else ""
            elif name == b"cookie":
                cookies.append(value.decode("latin-1"))
        if not key:
            key = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [""])[0]
        session_key = None if key else parse_cookie("; ".join(cookies)).get(settings.SESSION_COOKIE_NAME)
        user = await _socket_user(key or None, session_key)
        return await self.app(dict(scope, user=user, token=key or None, session_key=session_key), receive, send)


def _served_origin(scope) -> str | None:
    """The origin our own pages have on this connection: scheme, host and port as the client reached us."""
    headers = dict(scope.get("headers", []))
    host = headers.get(b"host", b"").decode("latin-1")
    if not validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") == "wss" or (
        settings.HTTPS and headers.get(b"x-forwarded-proto", b"").decode("latin-1") == "https"
    )
    return f"{'https' if secure else 'http'}://{host}"


def _trusted(origin: str) -> bool:
    """One of DJANGO_CSRF_TRUSTED_ORIGINS, read as Django's CSRF check reads them (`https://*.example.com`)."""
    scheme, _, netloc = origin.partition("://")
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        t_scheme, _, t_netloc = trusted.partition("://")
        if scheme == t_scheme and (netloc == t_netloc or ("*" in t_netloc and is_same_domain(netloc, t_netloc[1:]))):
            return True
    return False


class OriginCheck:
    """Browsers send `Origin`: it must be our own pages' (scheme, host and port) or a trusted origin
    (DJANGO_CSRF_TRUSTED_ORIGINS), or a page elsewhere could use a signed-in supervisor's cookie.
    Native clients (softphones, wallboard players) send none: they may connect with a token only."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        origin = dict(scope.get("headers", [])).get(b"origin", b"").decode("latin-1")
        if origin:
            allowed = origin == _served_origin(scope) or _trusted(origin)
        else:
            allowed = bool(scope.get("token"))
        if not allowed:
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


websocket_urlpatterns = [
    path("ws/status/", StatusConsumer.as_asgi()),
    path("ws/wallboard/", WallboardConsumer.as_asgi()),
    path("ws/sms/", SmsConsumer.as_asgi()),
]
