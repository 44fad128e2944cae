"""Demo data: two PBXs (the bundled simulator's ports), queues, agents, DIDs, trunks and routes. Safe to run
again."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from agents.models import AGENTS_GROUP, SUPERVISORS_GROUP, Agent, Availability, PauseReason
from telephony.models import (
    Did,
    InboundRoute,
    OutboundRoute,
    PbxKind,
    PbxServer,
    PrefixRoute,
    Queue,
    QueueMembership,
    Trunk,
)

PBXS = {
    "demo-asterisk": {
        "kind": PbxKind.ASTERISK,
        "host": "127.0.0.1",
        "port": 15038,
        "username": "mayday",
        "secret": "mayday",
        "domain": "",
    },
    "demo-freeswitch": {
        "kind": PbxKind.FREESWITCH,
        "host": "127.0.0.1",
        "port": 18021,
        "username": "",
        "secret": "ClueCon",
        "domain": "default",
    },
}
QUEUES = {
    "demo-asterisk": {"support": "ringall", "sales": "rrmemory"},
    "demo-freeswitch": {"support": "longest-idle-agent", "sales": "round-robin"},
}
# extension: (name, PBX, queues, availability, pause reason)
AGENTS = {
    "1005": ("Amina Wanjiru", "demo-asterisk", ["support", "sales"], Availability.AVAILABLE, None),
    "1006": ("Brian Otieno", "demo-asterisk", ["support"], Availability.ON_BREAK, "Lunch"),
    "1007": ("Grace Achieng", "demo-asterisk", ["sales"], Availability.AVAILABLE, None),
    "1008": ("David Kamau", "demo-freeswitch", ["support", "sales"], Availability.AVAILABLE, None),
    "1009": ("Faith Njeri", "demo-freeswitch", ["support"], Availability.ON_BREAK, "Training"),
    "1010": ("Samuel Mwangi", "demo-freeswitch", ["sales"], Availability.LOGGED_OUT, None),
}
DIDS = {
    "0323300245": "LaCueva",
    "0323300246": "Mama Oliech",
    "0323300247": "Java Junction",
}
TRUNK = "Hugamara_Trunk"
# Dialled before a number, each prefix presents one of the DIDs.
PREFIXES = {str(p): list(DIDS)[p % len(DIDS)] for p in range(43, 50)}


class Command(BaseCommand):
    help = "Create or refresh the demo call center (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        password = settings.MAYDAY_DEMO_PASSWORD
        pbxs = {
            name: PbxServer.objects.update_or_create(name=name, defaults=fields)[0] for name, fields in PBXS.items()
        }
        queues = {
            (pbx, name): Queue.objects.update_or_create(pbx=pbxs[pbx], name=name, defaults={"strategy": strategy})[0]
            for pbx, names in QUEUES.items()
            for name, strategy in names.items()
        }
        self._user("admin", "Mayday Administrator", password, superuser=True)
        self._user("supervisor", "Sam Supervisor", password, group=SUPERVISORS_GROUP)
        for extension, (name, pbx, queue_names, availability, reason) in AGENTS.items():
            user = self._user(extension, name, password, group=AGENTS_GROUP)
            agent, _ = Agent.objects.update_or_create(
                extension=extension,
                defaults={
                    "user": user,
                    "display_name": name,
                    "pbx": pbxs[pbx],
                    "availability": availability,
                    "pause_reason": PauseReason.objects.get(name=reason) if reason else None,
                },
            )
            for queue_name in queue_names:
                QueueMembership.objects.get_or_create(agent=agent, queue=queues[(pbx, queue_name)])
        dids = {
            number: Did.objects.update_or_create(number=number, defaults={"label": label})[0]
            for number, label in DIDS.items()
        }
        for pbx in pbxs.values():
            trunk, _ = Trunk.objects.get_or_create(pbx=pbx, name=TRUNK)
            for prefix, number in PREFIXES.items():
                PrefixRoute.objects.update_or_create(pbx=pbx, prefix=prefix, defaults={"did": dids[number]})
            # Ugandan numbers go out in E.164 without the +: the leading 0 becomes 256.
            OutboundRoute.objects.update_or_create(
                pbx=pbx,
                match="0",
                defaults={
                    "name": "Uganda",
                    "min_length": 10,
                    "max_length": 10,
                    "strip": 1,
                    "prepend": "256",
                    "trunk": trunk,
                },
            )
        Agent.objects.filter(pbx=pbxs["demo-asterisk"], default_did=None).update(default_did=dids["0323300245"])
        Agent.objects.filter(pbx=pbxs["demo-freeswitch"], default_did=None).update(default_did=dids["0323300246"])
        InboundRoute.objects.update_or_create(
            did=dids["0323300245"],
            defaults={"pbx": pbxs["demo-asterisk"], "target": "queue", "queue": queues[("demo-asterisk", "support")]},
        )

        self.stdout.write(self.style.SUCCESS("Demo call center ready."))
        self.stdout.write(f"  admin / {password}        (administrator)")
        self.stdout.write(f"  supervisor / {password}   (supervisor)")
        self.stdout.write(f"  1005 … 1010 / {password}  (agents; 1005-1007 on Asterisk, 1008-1010 on FreeSWITCH)")

    def _user(self, username: str, full_name: str, password: str, *, superuser: bool = False, group: str = ""):
        first, _, last = full_name.partition(" ")
        user, _ = get_user_model().objects.update_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "is_staff": superuser or group == SUPERVISORS_GROUP,
                "is_superuser": superuser,
            },
        )
        if not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user
