"""The API base: token auth, who may read and write what, list shapes, no N+1 queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from telephony.models import Queue
from tests.factories import AgentFactory, DidFactory, MembershipFactory, QueueFactory


def test_token_is_issued_for_good_credentials_only(api_as, agent, password):
    response = api_as(None).post("/api/auth/token/", {"username": "1005", "password": password}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert api_as(None).get("/api/agents/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    bad = api_as(None).post("/api/auth/token/", {"username": "1005", "password": "nope"}, format="json")
    assert bad.status_code == 400 and "non_field_errors" in bad.json()


@pytest.mark.parametrize("url", ["/api/", "/api/agents/", "/api/agents/1005/", "/api/queues/", "/api/dids/"])
def test_anonymous_gets_401_with_a_json_error(api_as, agent, url):
    response = api_as(None).get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_bad_token_gets_401(api_as, agent):
    response = api_as(None).get("/api/agents/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401 and response.json()["detail"] == "Invalid token."


def test_agent_sees_only_their_own_agent_record(api_as, agent):
    AgentFactory(extension="1006", pbx=agent.pbx)
    response = api_as(agent.user).get("/api/agents/")
    assert response.status_code == 200
    assert [a["extension"] for a in response.json()["results"]] == ["1005"]
    assert api_as(agent.user).get("/api/agents/1006/").status_code == 404
    me = api_as(agent.user).get("/api/agents/1005/").json()
    assert {k: me[k] for k in ("extension", "username", "full_name", "pbx", "availability")} == {
        "extension": "1005",
        "username": "1005",
        "full_name": agent.display_name,
        "pbx": agent.pbx.name,
        "availability": "logged_out",
    }


def test_supervisor_sees_every_agent_paginated(api_as, supervisor, agent):
    AgentFactory(extension="1006", pbx=agent.pbx)
    body = api_as(supervisor).get("/api/agents/").json()
    assert body["count"] == 2 and {"next", "previous"} <= set(body)
    assert [a["extension"] for a in body["results"]] == ["1005", "1006"]


def test_outsider_without_a_role_sees_nothing(api_as, outsider, agent):
    assert api_as(outsider).get("/api/agents/").json()["results"] == []
    assert api_as(outsider).get("/api/queues/").json()["results"] == []


def test_agent_reads_own_queues_but_cannot_write(api_as, agent):
    mine = MembershipFactory(agent=agent).queue
    QueueFactory(pbx=agent.pbx, name="not-mine")
    client = api_as(agent.user)
    assert [q["name"] for q in client.get("/api/queues/").json()["results"]] == [mine.name]
    response = client.post("/api/queues/", {"name": "x", "pbx": agent.pbx.name, "strategy": "ringall"}, format="json")
    assert response.status_code == 403 and "detail" in response.json()
    response = client.patch(f"/api/queues/{mine.pk}/", {"service_level_seconds": 5}, format="json")
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.service_level_seconds == 20


def test_supervisor_creates_and_edits_queues(api_as, supervisor, pbx):
    client = api_as(supervisor)
    response = client.post(
        "/api/queues/", {"name": "billing", "pbx": pbx.name, "strategy": "leastrecent"}, format="json"
    )
    assert response.status_code == 201, response.json()
    queue_id = response.json()["id"]
    assert response.json()["service_level_seconds"] == 20
    response = client.patch(f"/api/queues/{queue_id}/", {"service_level_seconds": 30}, format="json")
    assert response.status_code == 200 and response.json()["service_level_seconds"] == 30
    assert client.get("/api/queues/").json()["count"] == 1
    assert client.delete(f"/api/queues/{queue_id}/").status_code == 405


def test_queue_writes_are_validated(api_as, supervisor, pbx):
    client = api_as(supervisor)
    QueueFactory(pbx=pbx, name="billing")
    dup = client.post("/api/queues/", {"name": "billing", "pbx": pbx.name, "strategy": "ringall"}, format="json")
    assert dup.status_code == 400 and "unique" in str(dup.json())
    bad = client.post("/api/queues/", {"name": "b2", "pbx": pbx.name, "strategy": "longest-idle-agent"}, format="json")
    assert bad.status_code == 400 and "Asterisk (AMI) queues use one of" in bad.json()["strategy"][0]
    nopbx = client.post("/api/queues/", {"name": "b3", "pbx": "ghost", "strategy": "ringall"}, format="json")
    assert nopbx.status_code == 400 and "pbx" in nopbx.json()
    assert Queue.objects.count() == 1


def test_dids_come_as_the_plain_list_dashboards_read(api_as, agent):
    DidFactory(number="0323300245", label="LaCueva")
    DidFactory(number="0323300246", label="Mama Oliech")
    response = api_as(agent.user).get("/api/dids/")
    assert response.status_code == 200
    assert [(d["did"], d["label"]) for d in response.json()] == [
        ("0323300245", "LaCueva (0323300245)"),
        ("0323300246", "Mama Oliech (0323300246)"),
    ]


def test_agent_list_query_count_does_not_grow_with_agents(api_as, supervisor, pbx):
    client = api_as(supervisor)
    AgentFactory.create_batch(3, pbx=pbx)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/agents/").status_code == 200
    AgentFactory.create_batch(30, pbx=pbx)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/api/agents/").json()["count"] == 33
    assert len(many) == len(few)


def test_queue_list_query_count_does_not_grow_with_queues(api_as, supervisor, pbx):
    client = api_as(supervisor)
    QueueFactory.create_batch(2, pbx=pbx)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/queues/")
    QueueFactory.create_batch(20, pbx=pbx)
    with CaptureQueriesContext(connection) as many:
        client.get("/api/queues/")
    assert len(many) == len(few)
