"""An agent learns nothing about other extensions: "not yours" and "not there" get the same answer."""

from __future__ import annotations

from tests.factories import AgentFactory


def test_an_agent_gets_the_same_answer_for_another_extension_and_a_missing_one(api_as, agent):
    AgentFactory(extension="1006", pbx=agent.pbx)
    api = api_as(agent.user)
    answers = []
    for extension in ("1006", "9999"):
        status = api.post(f"/api/agents/{extension}/status/", {"status": "on_break"}, format="json")
        legacy = api.post("/Set-Agent-Status", {"extension": extension, "status": "On Break"}, format="json")
        detail = api.get(f"/api/agents/{extension}/")
        answers.append([(r.status_code, r.content) for r in (status, legacy)] + [(detail.status_code, detail.content)])
    assert answers[0] == answers[1]
    assert [code for code, _ in answers[0]] == [403, 403, 404]
    assert agent.pbx.name.encode() not in b"".join(body for _, body in answers[0])


def test_a_supervisor_is_told_an_extension_does_not_exist(api_as, supervisor, agent):
    response = api_as(supervisor).post("/api/agents/9999/status/", {"status": "on_break"}, format="json")
    assert response.status_code == 404 and "9999" in response.json()["detail"]
    legacy = api_as(supervisor).post("/Set-Agent-Status", {"extension": "9999", "status": "On Break"}, format="json")
    assert legacy.status_code == 404


def test_an_agent_still_changes_their_own_status(api_as, agent):
    response = api_as(agent.user).post("/Set-Agent-Status", {"extension": "1005", "status": "On Break"}, format="json")
    assert response.status_code == 202 and response.json()["availability"] == "on_break"
