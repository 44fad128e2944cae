"""Click-to-call over the API: the agent's phone rings first, then the number goes through the agent's outbound
routing; one call per idempotency key, never re-sent, failures in the PBX's words."""

from __future__ import annotations

import pytest

from telephony.models import CallRequest, CallState
from tests.factories import AgentFactory, DidFactory


def originates(sim) -> list[dict]:
    return [a for a in sim.sim.ami.actions if a["action"].lower() == "originate"]


def bgapi_originates(sim) -> list[str]:
    return [c for c in sim.sim.esl.commands if c.startswith("bgapi originate")]


def call(client, key: str | None = "k1", **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/calls/", {"extension": "1005", "number": "0700771301", **body}, format="json", **headers)


@pytest.fixture
def ast_agent(ast_pbx):
    return AgentFactory(extension="1005", pbx=ast_pbx)


@pytest.fixture
def fs_agent(fs_pbx):
    return AgentFactory(extension="1005", pbx=fs_pbx)


def test_asterisk_rings_the_agent_then_dials_through_the_routing(
    sim, ast_agent, api_as, django_capture_on_commit_callbacks
):
    DidFactory(number="0323300246")
    client = api_as(ast_agent.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, did="0323300246", number="+256700771301")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["extension"], body["number"], body["did"], body["state"]) == (
        "1005",
        "0700771301",
        "0323300246",
        "requested",
    )
    placed = CallRequest.objects.get()
    assert placed.state == CallState.ANSWERED and placed.pbx_call_id and placed.error == ""
    [action] = originates(sim)
    assert action["channel"] == "PJSIP/1005" and action["context"] == "mayday-route"
    assert action["exten"] == "0700771301" and action["async"] == "true"
    assert set(action["variable"].split(",")) == {
        "MAYDAY_AGENT=1005",
        f"MAYDAY_CALL={placed.pk}",
        "MAYDAY_DID=0323300246",
    }
    assert client.get(f"/api/calls/{placed.pk}/").json()["state"] == "answered"


def test_the_same_key_gives_the_same_call_never_a_second(sim, ast_agent, api_as, django_capture_on_commit_callbacks):
    client = api_as(ast_agent.user)
    with django_capture_on_commit_callbacks(execute=True):
        first = call(client)
        again = call(client)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len(originates(sim)) == 1 and CallRequest.objects.count() == 1
    other = call(client, number="0700771302")
    assert other.status_code == 409 and "another call" in other.json()["Idempotency-Key"][0]
    assert len(originates(sim)) == 1


def test_a_call_already_claimed_is_never_sent_again(sim, ast_agent, api_as, django_capture_on_commit_callbacks):
    """A task run twice (a redelivery after a worker died mid-call) finds the row taken and sends nothing."""
    from telephony import tasks

    with django_capture_on_commit_callbacks(execute=True):
        placed = call(api_as(ast_agent.user)).json()
    tasks.place_call.apply(args=[placed["id"]])
    assert len(originates(sim)) == 1


def test_freeswitch_uses_bgapi_and_waits_for_the_job(sim, fs_agent, api_as, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = call(api_as(fs_agent.user))
    assert response.status_code == 201
    placed = CallRequest.objects.get()
    assert placed.state == CallState.ANSWERED and placed.pbx_call_id
    [command] = bgapi_originates(sim)
    assert command.startswith("bgapi originate {origination_caller_id_number=0700771301,")
    assert "mayday_agent=1005" in command and "mayday_did" not in command
    assert command.endswith("}user/1005@default 0700771301 XML mayday-route")


@pytest.mark.parametrize("kind, words", [("asterisk", "could not be called"), ("freeswitch", "SUBSCRIBER_ABSENT")])
def test_a_phone_the_pbx_does_not_know_fails_in_its_words(
    kind, words, sim, ast_pbx, fs_pbx, api_as, django_capture_on_commit_callbacks
):
    agent = AgentFactory(extension="3999", pbx=ast_pbx if kind == "asterisk" else fs_pbx)
    with django_capture_on_commit_callbacks(execute=True):
        response = call(api_as(agent.user), extension="3999")
    assert response.status_code == 201
    placed = CallRequest.objects.get()
    assert placed.state == CallState.FAILED and words in placed.error


@pytest.mark.parametrize("kind, words", [("asterisk", "nobody answered"), ("freeswitch", "NO_ANSWER")])
def test_an_unanswered_phone_fails_and_is_not_retried(
    kind, words, sim, ast_pbx, fs_pbx, api_as, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(f"telephony.pbx.{kind}.RING_SECONDS", 1)  # the phone rings 1 s, not 30
    (sim.sim.ami if kind == "asterisk" else sim.sim.esl).unanswered.add("1005")
    agent = AgentFactory(extension="1005", pbx=ast_pbx if kind == "asterisk" else fs_pbx)
    with django_capture_on_commit_callbacks(execute=True):
        call(api_as(agent.user), key="k2")
    placed = CallRequest.objects.get()
    assert placed.state == CallState.FAILED and words in placed.error
    assert len(originates(sim) + bgapi_originates(sim)) == 1


def test_a_pbx_that_is_down_fails_visibly_without_sending(sim, ast_agent, api_as, django_capture_on_commit_callbacks):
    sim.run(sim.sim.stop)
    with django_capture_on_commit_callbacks(execute=True):
        response = call(api_as(ast_agent.user))
    assert response.status_code == 201
    placed = CallRequest.objects.get()
    assert placed.state == CallState.FAILED and "cannot reach" in placed.error


def test_agents_call_only_from_their_own_extension(
    sim, ast_pbx, ast_agent, supervisor, api_as, django_capture_on_commit_callbacks
):
    other = AgentFactory(extension="1006", pbx=ast_pbx)
    refused = call(api_as(other.user))
    assert refused.status_code == 403 and "own extension" in refused.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        assert call(api_as(supervisor)).status_code == 201
    assert originates(sim)[0]["channel"] == "PJSIP/1005"
    assert api_as(other.user).get("/api/calls/").json()["count"] == 0
    assert api_as(ast_agent.user).get("/api/calls/").json()["count"] == 1  # a call of their own extension


@pytest.mark.parametrize(
    "body, key, field, words",
    [
        ({}, None, "Idempotency-Key", "required"),
        ({}, "has space", "Idempotency-Key", "required"),
        ({"number": "0700 771301"}, "k", "number", "no spaces"),
        ({"number": "0700771301\r\nAction: Logoff"}, "k", "number", "no spaces"),
        ({"number": "12"}, "k", "number", "digits"),
        ({"number": "0700"}, "k", "number", "too short"),
        ({"extension": "9999"}, "k", "extension", "No agent"),
        ({"did": "0323300299"}, "k", "did", "does not exist"),
        ({"did": "0323300248"}, "k", "did", "does not allow outbound"),
    ],
)
def test_bad_requests_get_400_naming_the_field_and_place_nothing(sim, ast_agent, api_as, body, key, field, words):
    DidFactory(number="0323300248", allow_outbound=False)
    response = call(api_as(ast_agent.user), key=key, **body)
    assert response.status_code == 400, response.content
    assert words in str(response.json()[field])
    assert CallRequest.objects.count() == 0 and originates(sim) == []


def test_a_call_left_ringing_by_a_worker_that_died_is_failed_by_the_poll(ast_agent, supervisor):
    from datetime import timedelta

    from django.utils import timezone

    from telephony import tasks

    fresh, lost = (
        CallRequest.objects.create(
            pbx=ast_agent.pbx,
            agent=ast_agent,
            extension="1005",
            number="0700771301",
            idempotency_key=key,
            requested_by=supervisor,
            state=CallState.RINGING,
        )
        for key in ("fresh", "lost")
    )
    CallRequest.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    tasks.poll_all_pbxs.apply()
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.state == CallState.FAILED and "outcome was lost" in lost.error
    assert fresh.state == CallState.RINGING
