"""Print the dialplan that reads a PBX's routing data: install it once, and routes follow by themselves."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from telephony.models import PbxServer
from telephony.pbx import dialplan


class Command(BaseCommand):
    help = (
        "Print the routing dialplan of a PBX: extensions_mayday.conf for Asterisk (#include it, then "
        "`dialplan reload`), an XML context file for FreeSWITCH (conf/dialplan/, then `reloadxml`)."
    )

    def add_arguments(self, parser):
        parser.add_argument("pbx", help="PBX server name")
        parser.add_argument(
            "--internal-context",
            default="default",
            help="The dialplan context where inbound routes to an extension continue (default: default).",
        )

    def handle(self, *args, **options) -> None:
        pbx = PbxServer.objects.filter(name=options["pbx"]).first()
        if pbx is None:
            raise CommandError(f"No PBX server named {options['pbx']!r}.")
        try:
            text = dialplan.render(pbx.kind, domain=pbx.domain, internal_context=options["internal_context"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(text, ending="" if text.endswith("\n") else "\n")
