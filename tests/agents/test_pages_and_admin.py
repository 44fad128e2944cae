"""The dashboard and team pages, and the supervisors' status actions in the admin."""

from __future__ import annotations

import json
import re

from django.urls import reverse

from agents.models import AgentStatusEvent, Availability, PauseReason
from tests.factories import UserFactory, agent_on, ami_state


def embedded(page: str, name: str):
    found = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def test_the_dashboard_carries_the_agents_status_and_reasons(client, agent):
    client.force_login(agent.user)
    page = client.get("/dashboard/").content.decode()
    me = embedded(page, "me")
    assert (me["extension"], me["availability"]) == ("1005", "logged_out")
    assert embedded(page, "labels")["on_break"] == "On break"
    assert '<option value="Lunch">Lunch</option>' in page


def test_a_user_without_an_agent_is_told_what_to_do(client, outsider):
    client.force_login(outsider)
    page = client.get("/dashboard/")
    assert page.status_code == 403 and "Ask a supervisor to add you as an agent" in page.content.decode()
    response = client.post("/dashboard/status/", {"status": "available"})
    assert response.status_code == 403 and "no agent profile" in response.content.decode()


def test_a_bad_request_from_the_dashboard_shows_the_error_and_changes_nothing(client, agent):
    client.force_login(agent.user)
    response = client.post("/dashboard/status/", {"status": "on_break", "reason": "Nap"}, follow=True)
    assert "Unknown pause reason" in response.content.decode()
    assert not AgentStatusEvent.objects.exists()
    assert client.get("/dashboard/status/").status_code == 405


def test_the_team_board_is_for_supervisors(client, agent, supervisor):
    assert client.get("/team/").url.startswith("/accounts/login/")
    client.force_login(agent.user)
    assert client.get("/team/").status_code == 403
    client.force_login(supervisor)
    page = client.get("/team/").content.decode()
    assert [d["extension"] for d in embedded(page, "agents")] == ["1005"]
    assert 'id="count-available"' in page and 'id="filter-queue"' in page


def test_supervisor_actions_in_the_admin(client, sim, ast_pbx, django_capture_on_commit_callbacks):
    agent = agent_on(ast_pbx, "2001", availability="logged_out")
    boss = UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
    client.force_login(boss)

    def act(action, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/admin/agents/agent/", {"action": action, "_selected_action": [agent.pk], **extra}, follow=True
            )

    act("make_available")
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    assert "Pick a reason" in act("put_on_break").content.decode()
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    lunch = PauseReason.objects.get(name="Lunch")
    act("put_on_break", reason=lunch.pk)
    assert ami_state(sim) == {"support": (True, "Lunch"), "sales": (True, "Lunch")}
    act("sign_out")
    assert ami_state(sim) == {}
    rows = AgentStatusEvent.objects.filter(agent=agent).order_by("pk")
    assert [(e.to_availability, e.source, e.actor_id) for e in rows] == [
        (Availability.AVAILABLE, "supervisor", boss.pk),
        (Availability.ON_BREAK, "supervisor", boss.pk),
        (Availability.LOGGED_OUT, "supervisor", boss.pk),
    ]
    listing = client.get("/admin/agents/agent/").content.decode()
    assert "Logged out" in listing and "offline" in listing


def test_the_add_agent_form_shows_no_live_fields_and_the_change_form_shows_them_in_words(client, supervisor, agent):
    client.force_login(supervisor)
    add = client.get(reverse("admin:agents_agent_add")).content.decode()
    for live in ("Status since", "Sync error", "Active client sessions", "What the phone system sees"):
        assert live not in add, live
    change = client.get(reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()
    assert "What the phone system sees" in change and "Confirmed" in change
    assert "Sip rtt usec" not in change and "Contact URI" not in change
