"""Follow every enabled PBX's events and keep the database in step (one long-lived process)."""

from __future__ import annotations

import argparse
import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telephony.pbx.listener import listen
from telephony.selectors import pbxs_enabled


class Command(BaseCommand):
    help = "Listen to AMI/ESL events of every enabled PBX server; reconnects and resyncs by itself."

    def add_arguments(self, parser):
        parser.add_argument("--pbx", action="append", default=[], help="only this PBX (by name); repeatable")
        parser.add_argument(
            "--beat",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="also run the periodic tasks (reconciliation, presence sweep) in this process "
            "(default: when tasks run inline, since there is no Celery beat then)",
        )

    def handle(self, *args, **options) -> None:
        pbxs = pbxs_enabled(names=options["pbx"])
        if not pbxs:
            raise CommandError("No enabled PBX server to listen to.")
        beat = settings.CELERY_TASK_ALWAYS_EAGER if options["beat"] is None else options["beat"]
        self.stdout.write(
            f"Listening to {', '.join(p.name for p in pbxs)}" + ("; running periodic tasks" if beat else "")
        )
        self.stdout.flush()
        try:
            asyncio.run(listen(pbxs, beat=beat))
        except KeyboardInterrupt:
            pass
