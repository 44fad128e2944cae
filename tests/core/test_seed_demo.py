"""`seed_demo` builds the demo call center and is safe to run again."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from agents.models import Agent, PauseReason
from telephony.models import Did, InboundRoute, OutboundRoute, PbxServer, PrefixRoute, Queue, QueueMembership, Trunk

MODELS = [
    get_user_model(),
    Agent,
    PauseReason,
    PbxServer,
    Queue,
    QueueMembership,
    Did,
    Trunk,
    PrefixRoute,
    OutboundRoute,
    InboundRoute,
]


def snapshot() -> dict:
    return {
        model.__name__: sorted(
            tuple(
                str(v)
                for k, v in sorted(row.items())
                if k not in {"password", "last_login", "created_at", "updated_at", "date_joined"}
            )
            for row in model.objects.values()
        )
        for model in MODELS
    }


@pytest.mark.django_db
def test_seed_demo_twice_gives_the_same_data(settings):
    settings.MAYDAY_DEMO_PASSWORD = "demo-pass-123"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == first
    assert "demo-pass-123" in out.getvalue()

    assert set(Agent.objects.values_list("extension", flat=True)) == {str(n) for n in range(1005, 1011)}
    assert {a.extension for a in Agent.objects.filter(pbx__kind="asterisk")} == {"1005", "1006", "1007"}
    assert {a.extension for a in Agent.objects.filter(pbx__kind="freeswitch")} == {"1008", "1009", "1010"}
    ast = PbxServer.objects.get(kind="asterisk")
    fs = PbxServer.objects.get(kind="freeswitch")
    assert (ast.host, ast.port, fs.host, fs.port) == ("127.0.0.1", 15038, "127.0.0.1", 18021)
    assert {q.name for q in Queue.objects.all()} == {"support", "sales"}
    assert Did.objects.filter(number="0323300245", label="LaCueva").exists()
    assert Did.objects.count() == 3
    for pbx in (ast, fs):  # a trunk, prefixes 43-49 and one outbound route on each PBX
        assert list(pbx.trunks.values_list("name", flat=True)) == ["Hugamara_Trunk"]
        assert list(pbx.prefix_routes.values_list("prefix", flat=True)) == [str(p) for p in range(43, 50)]
        assert pbx.outbound_routes.get().entry().value() == "Hugamara_Trunk|1|256||10|10"
    assert InboundRoute.objects.get().value() == "queue|support"
    assert not Agent.objects.filter(default_did=None).exists()
    user = get_user_model().objects.get(username="1005")
    assert user.check_password("demo-pass-123") and not user.is_staff
    assert get_user_model().objects.get(username="admin").is_superuser
    sup = get_user_model().objects.get(username="supervisor")
    assert sup.is_staff and not sup.is_superuser and sup.groups.filter(name="Supervisors").exists()
