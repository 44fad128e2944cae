"""ASGI entry point: HTTP through Django, websockets through Channels (later issues add routes)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")
application = get_asgi_application()
