"""Follow every enabled PBX's events and keep the database in step (one long-lived process)."""

from __future__ import annotations

import argparse
import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from mayday import process
from telephony.pbx import listener
from telephony.selectors import pbxs_enabled


class Command(BaseCommand):
    help = (
        "Listen to AMI/ESL events of every enabled PBX server; reconnects and resyncs by itself, and follows "
        "PBX servers added, changed, enabled or disabled while it runs (with none enabled it waits for one)."
    )

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
        process.settle()
        names = options["pbx"]
        beat = settings.CELERY_TASK_ALWAYS_EAGER if options["beat"] is None else options["beat"]
        # Waiting rather than exiting: a PBX enabled later in the admin is picked up without a restart, and a
        # supervisor (systemd, compose) does not restart-loop a listener started before the first PBX exists.
        pbxs = pbxs_enabled(names=names)
        waiting = sorted(set(names) - {p.name for p in pbxs})
        self.stdout.write(
            f"Listening to {', '.join(p.name for p in pbxs) or 'no PBX yet'}"
            + (f"; waiting for {', '.join(waiting)} to be enabled" if waiting else "")
            + f"; the PBX list is read every {listener.PBX_LIST_SECONDS:g} s"
            + ("; running periodic tasks" if beat else "")
        )
        self.stdout.flush()
        try:
            asyncio.run(listener.listen(names=names, beat=beat))
        except KeyboardInterrupt:
            pass
