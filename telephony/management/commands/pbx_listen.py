"""Follow every enabled PBX's events and keep the database in step (one long-lived process)."""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telephony.models import PbxServer
from telephony.pbx.listener import listen


class Command(BaseCommand):
    help = "Listen to AMI/ESL events of every enabled PBX server; reconnects and resyncs by itself."

    def add_arguments(self, parser):
        parser.add_argument("--pbx", action="append", default=[], help="only this PBX (by name); repeatable")
        parser.add_argument(
            "--poll",
            type=float,
            default=None,
            help="also reconcile every N seconds in this process (default: MAYDAY_POLL_SECONDS when tasks run "
            "inline, else 0 and Celery beat does it)",
        )

    def handle(self, *args, **options) -> None:
        pbxs = PbxServer.objects.filter(enabled=True)
        if options["pbx"]:
            pbxs = pbxs.filter(name__in=options["pbx"])
        pbxs = list(pbxs)
        if not pbxs:
            raise CommandError("No enabled PBX server to listen to.")
        poll = options["poll"]
        if poll is None:
            poll = settings.MAYDAY_POLL_SECONDS if settings.CELERY_TASK_ALWAYS_EAGER else 0
        self.stdout.write(
            f"Listening to {', '.join(p.name for p in pbxs)}" + (f"; reconciling every {poll:g}s" if poll else "")
        )
        self.stdout.flush()
        try:
            asyncio.run(listen(pbxs, poll_seconds=poll))
        except KeyboardInterrupt:
            pass
