"""Malformed JSON gets 400 with a message on every endpoint that reads a body, and changes nothing."""

from __future__ import annotations

import pytest

from agents.models import AgentStatusEvent, ClientSession
from telephony.models import Queue
from tests.factories import QueueFactory

DEEP = "[" * 100_000
LONE_SURROGATE = '{"status": "\\ud800", "name": "\\udfff", "username": "\\ud800", "client_type": "\\ud800"}'


@pytest.fixture
def endpoints(agent, supervisor):
    queue = QueueFactory(pbx=agent.pbx, name="support")
    return [
        (None, "post", "/api/auth/token/"),
        (agent.user, "post", f"/api/agents/{agent.extension}/status/"),
        (agent.user, "post", "/Set-Agent-Status"),
        (agent.user, "post", "/api/sessions/"),
        (supervisor, "post", "/api/queues/"),
        (supervisor, "patch", f"/api/queues/{queue.pk}/"),
    ]


def _state():
    return (
        AgentStatusEvent.objects.count(),
        ClientSession.objects.count(),
        list(Queue.objects.values_list("name", "strategy")),
    )


@pytest.mark.parametrize(
    "body", [DEEP, LONE_SURROGATE, '{"status": ', "\xff\xfe"], ids=["deep", "surrogate", "cut", "bytes"]
)
def test_malformed_json_is_a_400_with_a_message(api_as, endpoints, supervisor, body):
    from agents.models import Agent

    Agent.objects.update()  # nothing; the state below is what must not move
    before = _state()
    for user, method, url in endpoints:
        response = getattr(api_as(user), method)(
            url, data=body.encode("utf-8", "surrogatepass"), content_type="application/json"
        )
        assert response.status_code == 400, (url, response.status_code)
        assert "JSON parse error" in response.json()["detail"], url
    assert _state() == before
