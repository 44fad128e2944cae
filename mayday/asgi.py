"""ASGI entry point: HTTP goes to Django, `/ws/status/` to the live status consumer."""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from weakref import WeakKeyDictionary

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")
django.setup(set_prefix=False)  # before the imports below touch models


class SyncRequestHandler(ASGIHandler):
    """Django's ASGI handler, with each request's middleware and view run on one thread in one go, one of a
    fixed set of threads.

    Every middleware and view here is synchronous. Django's asynchronous chain would call each middleware's
    hooks from the event loop, every one a trip to a thread and back (a dozen a request, each waiting for the
    interpreter lock under load); here the event loop hands the request over once.

    Django's handler starts a thread for every request, and with it a database connection. Here a request takes
    one of MAYDAY_WEB_THREADS threads, for itself until it is answered, as in a threaded WSGI server, and the
    thread keeps its connection for the next one (CONN_MAX_AGE, checked before reuse). A request that finds them
    all busy waits for one.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # which refuses it
        threads = _threads()
        thread = await threads.get()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            threads.put_nowait(thread)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


_pools: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Queue] = WeakKeyDictionary()


def _threads() -> asyncio.Queue:
    """This event loop's (this web process's) request threads that are free, each an executor of one thread."""
    loop = asyncio.get_running_loop()
    if loop not in _pools:
        pool = _pools[loop] = asyncio.LifoQueue()  # the thread used last goes first: no more connections than needed
        for n in range(settings.MAYDAY_WEB_THREADS):
            pool.put_nowait(ThreadPoolExecutor(1, thread_name_prefix=f"request-{n}"))
    return _pools[loop]


django_application = SyncRequestHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from agents.routing import OriginCheck, SocketAuth, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": SocketAuth(OriginCheck(URLRouter(websocket_urlpatterns))),
    }
)
