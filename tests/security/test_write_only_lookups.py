"""Secrets never leak through changelist filters: a lookup on a write-only field is refused, directly or across
a relation, on every admin list (the contrib ones included)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from agents.models import Agent
from mayday.admin import WRITE_ONLY_FIELDS, touches_write_only
from tests.factories import AgentFactory, PbxServerFactory


def test_guessing_a_pbx_secret_by_prefix_is_refused(client, supervisor):
    pbx = PbxServerFactory(secret="Clue-secret-1")
    client.force_login(supervisor)
    url = reverse("admin:telephony_pbxserver_changelist")
    right = client.get(url, {"id__exact": pbx.pk, "secret__regex": "^Clue"})
    wrong = client.get(url, {"id__exact": pbx.pk, "secret__regex": "^Nope"})
    assert right.status_code == wrong.status_code == 400
    assert right.content == wrong.content


@pytest.mark.parametrize(
    ("model", "lookup"),
    [
        ("agents_agent", "pbx__secret__startswith"),
        ("agents_agent", "user__password__startswith"),
        ("telephony_queue", "pbx__secret"),
        ("auth_user", "password__startswith"),
        ("auth_user", "agent__sessions__token__startswith"),
        ("agents_clientsession", "token__startswith"),
        ("agents_clientsession", "agent__pbx__secret__contains"),
        ("auth_user", "auth_token_set__pk__startswith"),  # knox's digest is the token's primary key
        ("knox_authtoken", "pk__startswith"),
    ],
)
def test_write_only_fields_are_refused_across_relations(client, admin_user, model, lookup):
    AgentFactory()
    client.force_login(admin_user)
    assert client.get(reverse(f"admin:{model}_changelist"), {lookup: "a"}).status_code == 400


def test_every_registered_admin_refuses_write_only_lookups():
    """A model registered later is covered too: the site wraps every ModelAdmin it registers."""
    for model, model_admin in admin.site._registry.items():
        for field_name in WRITE_ONLY_FIELDS.get(model._meta.label_lower, ()):
            assert not model_admin.lookup_allowed(f"{field_name}__startswith", "a", None), model


def test_ordinary_filters_still_work(client, supervisor):
    PbxServerFactory(name="north")
    client.force_login(supervisor)
    response = client.get(reverse("admin:telephony_pbxserver_changelist"), {"kind__exact": "asterisk"})
    assert response.status_code == 200 and "north" in response.content.decode()
    assert not touches_write_only(Agent, "pbx__name__exact") and touches_write_only(Agent, "pbx__secret")
