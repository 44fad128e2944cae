"""ASGI entry point: HTTP goes to Django, `/ws/status/` to the live status consumer."""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")
django.setup(set_prefix=False)  # before the imports below touch models


class SyncRequestHandler(ASGIHandler):
    """Django's ASGI handler, with each request's middleware and view run on one thread in one go.

    Every middleware and view here is synchronous. Django's asynchronous chain would call each middleware's
    hooks from the event loop, every one a trip to a thread and back (a dozen a request, each waiting for the
    interpreter lock under load); here the event loop hands the request over once.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


django_application = SyncRequestHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from agents.routing import OriginCheck, SocketAuth, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": SocketAuth(OriginCheck(URLRouter(websocket_urlpatterns))),
    }
)
