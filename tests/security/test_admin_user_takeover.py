"""The agent form in the admin never hands a supervisor another, more privileged account."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from agents.models import Agent
from tests.core.test_admin import _agent_form
from tests.factories import AgentFactory, UserFactory


@pytest.mark.parametrize(
    "privileged",
    [
        {"is_superuser": True, "is_staff": True},
        {"is_staff": True},
        {"groups": ["Supervisors"]},
        {"permission": "change_agent"},
    ],
    ids=["superuser", "staff", "supervisor-role", "own-permission"],
)
def test_a_supervisor_cannot_turn_a_more_privileged_user_into_an_agent(client, supervisor, pbx, privileged):
    permission = privileged.pop("permission", None)
    target = UserFactory(username="boss", **privileged)
    if permission:
        target.user_permissions.add(Permission.objects.get(codename=permission))
    before = target.password
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:agents_agent_add"), _agent_form(pbx, username="boss", password="Taken-over-1")
    )
    assert response.status_code == 200
    assert "cannot become an agent here" in response.content.decode()
    target.refresh_from_db()
    assert target.password == before and not Agent.objects.exists()
    client.logout()
    signed_in = client.post("/accounts/login/", {"username": "boss", "password": "Taken-over-1"})
    assert signed_in.status_code == 200 and "_auth_user_id" not in client.session


def test_a_supervisor_cannot_set_the_password_of_a_more_privileged_agent(client, supervisor, pbx):
    boss = AgentFactory(extension="4001", pbx=pbx, user__username="admin-agent")
    boss.user.is_superuser = boss.user.is_staff = True
    boss.user.save()
    before = boss.user.password
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:agents_agent_change", args=[boss.pk]),
        _agent_form(pbx, username="admin-agent", extension="4001", password="Taken-over-1"),
    )
    assert response.status_code == 200
    assert "you cannot set their password" in response.content.decode()
    boss.user.refresh_from_db()
    assert boss.user.password == before


def test_a_supervisor_still_sets_an_agents_password(client, supervisor, agent):
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:agents_agent_change", args=[agent.pk]),
        _agent_form(agent.pbx, username=agent.user.username, extension=agent.extension, password="Fresh-pass-42"),
    )
    assert response.status_code == 302
    agent.user.refresh_from_db()
    assert agent.user.check_password("Fresh-pass-42")


def test_an_administrator_may_reset_a_privileged_agents_password(client, admin_user, pbx):
    lead = AgentFactory(extension="4002", pbx=pbx, user__username="lead")
    lead.user.is_staff = True
    lead.user.save()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:agents_agent_change", args=[lead.pk]),
        _agent_form(pbx, username="lead", extension="4002", password="Lead-pass-777"),
    )
    assert response.status_code == 302
    lead.user.refresh_from_db()
    assert lead.user.check_password("Lead-pass-777")


def test_session_tokens_show_only_a_prefix_in_the_admin(client, supervisor, agent):
    from agents import services

    session = services.session_open(agent=agent, client_type="webrtc")
    client.force_login(supervisor)
    for url in (
        reverse("admin:agents_clientsession_changelist"),
        reverse("admin:agents_clientsession_change", args=[session.pk]),
        reverse("admin:agents_agent_change", args=[agent.pk]),
    ):
        html = client.get(url).content.decode()
        assert session.token not in html and session.token[:12] not in html, url
    assert (
        session.token[:6]
        in client.get(reverse("admin:agents_clientsession_change", args=[session.pk])).content.decode()
    )
