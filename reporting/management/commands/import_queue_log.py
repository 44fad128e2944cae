"""Fill the gaps in the call records from Asterisk's own queue_log."""

from __future__ import annotations

import sys
from itertools import islice

from django.core.management.base import BaseCommand, CommandError

from agents.models import Agent
from reporting.models import Source
from reporting.services import calls_record
from telephony.models import PbxKind, PbxServer
from telephony.pbx.asterisk import extension_of
from telephony.pbx.queue_log import queue_log_events

BATCH = 2000


class Command(BaseCommand):
    help = "Read an Asterisk queue_log and merge its calls with those recorded from events (never twice)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the queue_log file ('-' for standard input).")
        parser.add_argument("--pbx", required=True, help="Name of the Asterisk PBX server the log comes from.")

    def handle(self, *args, file: str, pbx: str, **options) -> None:
        server = PbxServer.objects.filter(name=pbx).first()
        if server is None:
            raise CommandError(f"No PBX server named {pbx!r}.")
        if server.kind != PbxKind.ASTERISK:
            raise CommandError(f"{pbx} is a {server.get_kind_display()} server; queue_log is Asterisk's.")
        # queue_log names members as the queue knows them: their MemberName (the agent's display name), or
        # the interface when they have none.
        names = dict(Agent.objects.filter(pbx=server).values_list("display_name", "extension"))
        try:
            stream = sys.stdin if file == "-" else open(file, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        events = queue_log_events(stream, lambda agent: names.get(agent) or extension_of(agent))
        total = 0
        with stream:
            while chunk := list(islice(events, BATCH)):
                total += calls_record(pbx_id=server.pk, events=chunk, source=Source.QUEUE_LOG)
        self.stdout.write(f"Read {total} call lines from {file} for {pbx}.")
