"""The web process: daphne serving HTTP and websockets, plus the PBX listener when it must share the process."""

from __future__ import annotations

import asyncio

from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server  # installs Twisted's asyncio reactor: import before anything else uses Twisted
from django.conf import settings
from django.core.management.base import BaseCommand

from telephony.pbx.listener import listen
from telephony.selectors import pbxs_enabled


def in_memory_layer() -> bool:
    return settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer")


class Command(BaseCommand):
    help = (
        "Serve Mayday (HTTP and /ws/status/) with daphne. With the in-memory channel layer (the embedded setup) "
        "the PBX listener and the periodic tasks run in this process too, since live changes cannot cross "
        "processes then; with Redis run `pbx_listen` (and Celery) separately."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **options) -> None:
        from mayday.asgi import application

        embedded = in_memory_layer()

        def ready() -> None:
            pbxs = pbxs_enabled()
            if embedded and pbxs:
                beat = settings.CELERY_TASK_ALWAYS_EAGER
                asyncio.get_event_loop().create_task(listen(pbxs, beat=beat))
                self.stdout.write(f"Following {', '.join(p.name for p in pbxs)} in this process")

        self.stdout.write(f"Serving on http://{options['host']}:{options['port']}/")
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=options["host"], port=options["port"]),
            ready_callable=ready,
        ).run()
