"""Connect to a PBX, log in, and print what it says about queues, members and phones."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from telephony import services
from telephony.models import PbxServer
from telephony.pbx.base import PbxError
from telephony.selectors import snapshot_lines


class Command(BaseCommand):
    help = "Test a PBX connection: log in and print a snapshot summary."

    def add_arguments(self, parser):
        parser.add_argument("pbx", help="PBX server name")

    def handle(self, *args, **options) -> None:
        pbx = PbxServer.objects.filter(name=options["pbx"]).first()
        if pbx is None:
            raise CommandError(f"No PBX server named {options['pbx']!r}.")
        try:
            snap = services.pbx_check(pbx=pbx)
        except PbxError as exc:
            raise CommandError(f"{pbx.name}: {exc.message}") from exc
        self.stdout.write("\n".join(snapshot_lines(pbx=pbx, snap=snap)))
