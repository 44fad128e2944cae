"""The web process: daphne serving HTTP and websockets, plus the PBX listener when it must share the process."""

from __future__ import annotations

import asyncio

from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server  # installs Twisted's asyncio reactor: import before anything else uses Twisted
from django.conf import settings
from django.core.management.base import BaseCommand

from mayday import process
from mayday.server import PromptWebSocketProtocol
from telephony.pbx import listener


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
        tasks: list[asyncio.Task] = []  # the loop keeps only weak references to its tasks

        def ready() -> None:
            server.ws_factory.protocol = PromptWebSocketProtocol  # made by run(), before it calls this
            process.settle()
            # Started with or without a PBX: the listener reads the PBX list again and again, so a PBX added later
            # in the admin is followed without a restart.
            if embedded:
                beat = settings.CELERY_TASK_ALWAYS_EAGER
                tasks.append(asyncio.get_event_loop().create_task(listener.listen(beat=beat)))
                self.stdout.write(
                    f"Following the enabled PBX servers in this process (read every {listener.PBX_LIST_SECONDS:g} s)"
                )

        self.stdout.write(f"Serving on http://{options['host']}:{options['port']}/")
        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=options["host"], port=options["port"]),
            ready_callable=ready,
        )
        server.run()
