"""The admin: every page renders for an administrator, agents are kept out, supervisors work within their role."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from agents.models import Agent
from telephony.models import PbxServer
from tests.factories import AgentFactory, DidFactory, MembershipFactory, PbxServerFactory, UserFactory

REGISTERED = sorted(f"{m._meta.app_label}_{m._meta.model_name}" for m in admin.site._registry)
# Written only by Mayday itself: sessions by clients, status history by every change, tokens by the API,
# sign-in records by the sign-in protection, call records by the PBX, click-to-calls by the API, text messages
# by agents' pages and the provider.
NO_ADD = {
    "telephony_callrequest",
    "sms_message",
    "sms_deliveryreport",
    "reporting_queuecall",
    "reporting_cdr",
    "agents_clientsession",
    "agents_agentstatusevent",
    "knox_authtoken",
    "axes_accessattempt",
    "axes_accesslog",
    "axes_accessfailurelog",
}


@pytest.fixture
def populated(db):
    m = MembershipFactory()
    DidFactory()
    return m


@pytest.mark.parametrize("model", REGISTERED)
@pytest.mark.parametrize("page", ["changelist", "add"])
def test_every_admin_page_renders_for_an_administrator(client, admin_user, populated, model, page):
    client.force_login(admin_user)
    response = client.get(reverse(f"admin:{model}_{page}"))
    assert response.status_code == (403 if page == "add" and model in NO_ADD else 200), response.content[:500]


@pytest.mark.parametrize("model", REGISTERED)
@pytest.mark.parametrize("page", ["changelist", "add"])
def test_every_admin_page_is_refused_to_an_agent(client, agent, model, page):
    client.force_login(agent.user)
    response = client.get(reverse(f"admin:{model}_{page}"), follow=True)
    assert response.redirect_chain and response.redirect_chain[-1][0] == "/dashboard/"


def test_admin_index_speaks_call_center(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    assert "Mayday call center" in html
    assert html.index("Agents and breaks") < html.index("Phone system") < html.index("Logins and roles")
    assert "PBX servers" in html and "DIDs" in html


def test_supervisor_edits_an_agent(client, supervisor, agent):
    client.force_login(supervisor)
    url = reverse("admin:agents_agent_change", args=[agent.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "username": agent.user.username,
            "password": "",
            "extension": "1099",
            "display_name": "Renamed Agent",
            "pbx": agent.pbx.pk,
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "sessions-TOTAL_FORMS": "0",
            "sessions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    agent.refresh_from_db()
    assert (agent.extension, agent.display_name) == ("1099", "Renamed Agent")


def test_nobody_reads_a_pbx_secret_in_the_admin(client, supervisor, admin_user):
    pbx = PbxServerFactory(secret="TopSecret-AMI-9")
    url = reverse("admin:telephony_pbxserver_change", args=[pbx.pk])
    client.force_login(supervisor)
    page = client.get(url)
    assert page.status_code == 200  # supervisors may look
    assert "TopSecret-AMI-9" not in page.content.decode()
    assert client.post(url, {"name": "hijack"}).status_code == 403  # but not change
    client.force_login(admin_user)
    assert "TopSecret-AMI-9" not in client.get(url).content.decode()
    assert "TopSecret-AMI-9" not in client.get(reverse("admin:telephony_pbxserver_changelist")).content.decode()


def test_empty_secret_on_edit_keeps_the_stored_one(client, admin_user):
    pbx = PbxServerFactory(secret="keep-me")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:telephony_pbxserver_change", args=[pbx.pk]),
        {
            "name": pbx.name,
            "kind": "asterisk",
            "host": "10.1.2.3",
            "port": "",
            "username": "mayday",
            "secret": "",
            "domain": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    pbx.refresh_from_db()
    assert (pbx.secret, pbx.host, pbx.port) == ("keep-me", "10.1.2.3", 5038)


def test_freeswitch_pbx_gets_its_default_port_and_needs_a_domain(client, admin_user):
    client.force_login(admin_user)
    data = {
        "name": "fs1",
        "kind": "freeswitch",
        "host": "127.0.0.1",
        "port": "",
        "username": "",
        "secret": "ClueCon",
        "domain": "",
        "enabled": "on",
    }
    response = client.post(reverse("admin:telephony_pbxserver_add"), data)
    assert response.status_code == 200
    assert "needs the domain" in response.content.decode()
    response = client.post(reverse("admin:telephony_pbxserver_add"), {**data, "domain": "default"})
    assert response.status_code == 302
    assert PbxServer.objects.get(name="fs1").port == 8021


def _agent_form(pbx, **overrides) -> dict:
    return {
        "username": "3001",
        "password": "Sturdy-pass-99",
        "extension": "3001",
        "display_name": "New Agent",
        "pbx": pbx.pk,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "sessions-TOTAL_FORMS": "0",
        "sessions-INITIAL_FORMS": "0",
        **overrides,
    }


def test_adding_an_agent_creates_its_user_in_one_step(client, supervisor, pbx):
    client.force_login(supervisor)
    response = client.post(reverse("admin:agents_agent_add"), _agent_form(pbx))
    assert response.status_code == 302
    agent = Agent.objects.get(extension="3001")
    assert agent.user.username == "3001"
    assert agent.user.check_password("Sturdy-pass-99")
    assert agent.user.groups.filter(name="Agents").exists() and not agent.user.is_staff


def test_adding_an_agent_links_an_existing_user(client, supervisor, pbx):
    existing = UserFactory(username="jane")
    client.force_login(supervisor)
    response = client.post(reverse("admin:agents_agent_add"), _agent_form(pbx, username="jane", password=""))
    assert response.status_code == 302
    assert Agent.objects.get(extension="3001").user == existing


def test_a_user_cannot_be_two_agents(client, supervisor, agent):
    client.force_login(supervisor)
    count = get_user_model().objects.count()
    response = client.post(reverse("admin:agents_agent_add"), _agent_form(agent.pbx, username="1005", password=""))
    assert response.status_code == 200
    assert "already agent 1005" in response.content.decode()
    assert get_user_model().objects.count() == count and Agent.objects.count() == 1


def test_a_new_user_needs_a_password(client, supervisor, pbx):
    client.force_login(supervisor)
    response = client.post(reverse("admin:agents_agent_add"), _agent_form(pbx, password=""))
    assert "A new user needs a password." in response.content.decode()
    assert not get_user_model().objects.filter(username="3001").exists()


def test_membership_must_stay_on_the_agents_pbx(client, supervisor):
    agent = AgentFactory()
    other = MembershipFactory()  # a queue on another PBX
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:telephony_queuemembership_add"), {"agent": agent.pk, "queue": other.queue.pk, "penalty": "0"}
    )
    assert response.status_code == 200
    assert "can only join queues on its own PBX" in response.content.decode()
