"""The status API: documents, filters, requests with their permissions, the old /Set-Agent-Status body."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent, AgentStatusEvent, ClientSession
from agents.services import session_open
from tests.factories import AgentFactory, agent_on, ami_state

pytestmark = pytest.mark.usefixtures("django_capture_on_commit_callbacks")


@pytest.fixture
def on_pbx(sim, ast_pbx):
    """Agent 2001 (available) and 2002 (logged out) on the simulated Asterisk, in support and sales."""
    return agent_on(ast_pbx, "2001"), agent_on(ast_pbx, "2002", availability="logged_out", queues=("support",))


def post_status(api, extension, body, capture):
    with capture(execute=True):
        return api.post(f"/api/agents/{extension}/status/", body, format="json")


def test_an_agent_takes_a_break_through_the_api(api_as, sim, on_pbx, django_capture_on_commit_callbacks):
    me, _ = on_pbx
    response = post_status(
        api_as(me.user), "2001", {"status": "on_break", "reason": "Lunch"}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    # The answer is written before the commit runs the PBX command: the request, pending.
    assert (body["availability"], body["pause_reason"], body["sync_state"]) == ("on_break", "Lunch", "pending")
    assert ami_state(sim) == {"support": (True, "Lunch"), "sales": (True, "Lunch")}
    assert api_as(me.user).get("/api/agents/2001/status/").json()["sync_state"] == "applied"
    event = AgentStatusEvent.objects.get()
    assert (event.source, event.actor_id, event.reason) == ("api", me.user_id, "Lunch")


def test_the_status_document_has_every_field(api_as, sim, on_pbx):
    me, _ = on_pbx
    doc = api_as(me.user).get("/api/agents/2001/status/").json()
    assert set(doc) == set(
        "extension username full_name pbx availability pause_reason sync_state sync_error since presence "
        "session_active client_type ip port transport rtt_ms last_seen pbx_down queues".split()
    )
    assert [q["queue"] for q in doc["queues"]] == ["sales", "support"]
    assert set(doc["queues"][0]) == {
        "queue", "on_pbx", "paused", "reason", "device_state", "in_call", "calls_taken", "last_call"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "busy"}, "status"),
        ({"status": "on_break", "reason": "Nap"}, "Unknown pause reason 'Nap'"),
        ({"status": "on_break", "reason": "Lunch\r\nAction: Originate"}, "Unknown pause reason"),
        ({"status": "available", "reason": "Lunch"}, "A reason goes only with on_break"),
        ({}, "status"),
    ],
)
def test_bad_requests_are_400_and_send_nothing(api_as, sim, on_pbx, body, message, django_capture_on_commit_callbacks):
    me, _ = on_pbx
    before = len(sim.sim.ami.actions)
    response = post_status(api_as(me.user), "2001", body, django_capture_on_commit_callbacks)
    assert response.status_code == 400 and message in str(response.json())
    assert len(sim.sim.ami.actions) == before and not AgentStatusEvent.objects.exists()


def test_an_agent_may_change_only_their_own_status(api_as, sim, on_pbx, outsider, django_capture_on_commit_callbacks):
    me, _ = on_pbx
    before = len(sim.sim.ami.actions)
    response = post_status(api_as(me.user), "2002", {"status": "available"}, django_capture_on_commit_callbacks)
    assert response.status_code == 403 and "only your own" in response.json()["detail"]
    assert (
        post_status(api_as(outsider), "2001", {"status": "available"}, django_capture_on_commit_callbacks).status_code
        == 403
    )
    assert (
        post_status(api_as(None), "2001", {"status": "available"}, django_capture_on_commit_callbacks).status_code
        == 401
    )
    assert (  # a missing extension looks like someone else's (see tests/security/test_probing.py)
        post_status(api_as(me.user), "9999", {"status": "available"}, django_capture_on_commit_callbacks).status_code
        == 403
    )
    assert api_as(me.user).get("/api/agents/2002/status/").status_code == 404
    assert len(sim.sim.ami.actions) == before


def test_a_supervisor_may_change_anyone(api_as, sim, on_pbx, supervisor, django_capture_on_commit_callbacks):
    _ = on_pbx
    response = post_status(api_as(supervisor), "2002", {"status": "available"}, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    assert ami_state(sim, "2002") == {"support": (False, "")}
    assert AgentStatusEvent.objects.get().actor == supervisor


def test_the_command_carries_out_the_agent_the_request_loaded_without_reading_it_again(
    api_as, sim, on_pbx, monkeypatch, django_capture_on_commit_callbacks
):
    from telephony import services as telephony_services

    me, _ = on_pbx
    push, commands = telephony_services.agent_push_availability, []

    def counted(**kwargs):
        with CaptureQueriesContext(connection) as queries:
            push(**kwargs)
        commands.append([q["sql"] for q in queries.captured_queries])

    monkeypatch.setattr(telephony_services, "agent_push_availability", counted)
    body = {"status": "on_break", "reason": "Lunch"}
    assert post_status(api_as(me.user), "2001", body, django_capture_on_commit_callbacks).status_code == 202
    assert ami_state(sim) == {"support": (True, "Lunch"), "sales": (True, "Lunch")}
    # Its one query records the result: the agent, its PBX, reason and memberships came with the request.
    ((query,),) = commands
    assert query.startswith("UPDATE") and Agent.objects.get(pk=me.pk).sync_state == "applied"


def test_the_old_set_agent_status_body(api_as, sim, on_pbx, ast_pbx, django_capture_on_commit_callbacks):
    me, _ = on_pbx
    api = api_as(me.user)

    def old(body):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/Set-Agent-Status", body, format="json")

    response = old({"extension": "2001", "hostname": ast_pbx.host, "status": "On Break"})
    assert response.status_code == 202 and response.json()["pause_reason"] == "Break"
    assert ami_state(sim) == {"support": (True, "Break"), "sales": (True, "Break")}
    assert old({"extension": "2001", "hostname": "ast", "status": "Available"}).status_code == 202
    assert ami_state(sim) == {"support": (False, ""), "sales": (False, "")}
    before = len(sim.sim.ami.actions)
    assert old({"extension": "2001", "status": "available"}).status_code == 400  # the old words only
    assert old({"extension": "2001", "hostname": "10.9.9.9", "status": "Logged Out"}).status_code == 400
    assert old({"extension": "4040", "status": "Logged Out"}).status_code == 403  # as for someone else's
    assert old({"extension": "2002", "status": "Logged Out"}).status_code == 403
    assert old({"status": "Logged Out"}).status_code == 400
    assert len(sim.sim.ami.actions) == before
    assert api_as(None).post("/Set-Agent-Status", {}, format="json").status_code == 401


def test_list_filters(api_as, sim, on_pbx, supervisor):
    me, other = on_pbx
    session_open(agent=other, client_type="webrtc", ip="10.0.0.2")

    def extensions(query):
        response = api_as(supervisor).get(f"/api/agents/?{query}")
        assert response.status_code == 200, response.json()
        return [a["extension"] for a in response.json()["results"]]

    assert extensions("") == ["2001", "2002"]
    assert extensions("queue=sales") == ["2001"]
    assert extensions("availability=logged_out") == ["2002"]
    assert extensions("presence=online") == ["2002"]
    assert extensions("presence=offline&queue=support") == ["2001"]
    assert api_as(supervisor).get("/api/agents/?availability=nap").status_code == 400
    assert api_as(supervisor).get("/api/agents/?presence=away").status_code == 400
    assert extensions_seen_by(api_as(me.user)) == ["2001"]


def extensions_seen_by(api):
    return [a["extension"] for a in api.get("/api/agents/").json()["results"]]


def _grow(pbx, start, n):
    for i in range(n):
        a = agent_on(pbx, str(start + i), queues=("support", "sales"))
        session_open(agent=a, client_type="webrtc")


def test_the_agent_list_and_team_board_take_the_same_queries_for_10_or_40_agents(api_as, client, supervisor, pbx):
    counts = []
    api = api_as(supervisor)
    client.force_login(supervisor)
    for start, n in ((3000, 10), (4000, 30)):
        _grow(pbx, start, n)
        with CaptureQueriesContext(connection) as api_queries:
            assert len(api.get("/api/agents/").json()["results"]) == Agent.objects.count()
        with CaptureQueriesContext(connection) as page_queries:
            assert client.get("/team/").status_code == 200
        counts.append((len(api_queries), len(page_queries)))
    assert ClientSession.objects.count() == 40
    assert counts[0] == counts[1], counts


def test_a_deactivated_agent_record_is_not_needed_to_read(api_as, supervisor):
    AgentFactory(extension="3100")
    assert api_as(supervisor).get("/api/agents/3100/status/").json()["presence"] == "offline"
