"""ASGI entry point: HTTP goes to Django, `/ws/status/` to the live status consumer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")
django_application = get_asgi_application()  # sets Django up before the imports below touch models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from agents.routing import OriginCheck, TokenAuthMiddleware, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AuthMiddlewareStack(TokenAuthMiddleware(OriginCheck(URLRouter(websocket_urlpatterns)))),
    }
)
