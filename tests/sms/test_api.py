"""The SMS API on the old paths: send, balance, providers, config (secrets write-only), conversations."""

from __future__ import annotations

import pytest

from sms.models import Direction, Message, ProviderSettings, Status
from tests.factories import AgentFactory


def test_an_agent_sends_and_the_same_key_sends_once(provider, agent, api_as, django_capture_on_commit_callbacks):
    client = api_as(agent.user)
    body = {"to": "0700771301", "content": "Your table is ready."}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/api/sms/send", body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
        again = client.post("/api/sms/send", body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert first.json()["customer"] == "+256700771301" and first.json()["segments"] == 1
    assert len(provider.sent) == 1 and provider.sent[0]["to"] == "+256700771301"
    other = client.post("/api/sms/send", {**body, "content": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert other.status_code == 409


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"to": "0700 771301"}, "to", "no spaces"),
        ({"to": "0700771301\r\n"}, "to", "no spaces"),
        ({"to": "12"}, "to", "digits"),
        ({"content": ""}, "content", "blank"),
        ({"content": "   "}, "content", "empty"),
        ({"content": "x" * 1531}, "content", "at most 10"),
        ({"content": "😊" * 700}, "content", "UCS-2"),
        ({"from": "A very long sender"}, "from", "up to 11"),
        ({"from": "Bad\nSender"}, "from", "up to 11"),
    ],
)
def test_bad_sends_get_400_naming_the_field_and_send_nothing(provider, agent, api_as, body, field, words):
    response = api_as(agent.user).post("/api/sms/send", {"to": "0700771301", "content": "Hi", **body}, format="json")
    assert response.status_code == 400, response.content
    assert words in str(response.json()[field])
    assert not Message.objects.exists() and provider.sent == []


def test_only_agents_and_supervisors_send(outsider, api_as, provider):
    assert api_as(outsider).post("/api/sms/send", {"to": "0700771301", "content": "x"}).status_code == 403


def test_balance_providers_and_config_are_for_supervisors(provider, supervisor, agent, api_as):
    sup = api_as(supervisor)
    assert sup.get("/api/sms/balance").json() == {"balance": "10.23", "sms_count": None}  # ND: unlimited
    [jasmin] = sup.get("/api/sms/providers").json()
    assert (jasmin["name"], jasmin["source"], jasmin["base_url"]) == (
        "jasmin",
        "environment",
        provider.config().base_url,
    )
    for url in ("/api/sms/balance", "/api/sms/providers", "/api/sms/config"):
        assert api_as(agent.user).get(url).status_code == 403


def test_a_provider_that_cannot_answer_the_balance_gives_502_with_its_words(provider, supervisor, api_as):
    provider.reply_balance(403, {"message": 'Error "Authentication failure for username:mayday'})
    response = api_as(supervisor).get("/api/sms/balance")
    assert response.status_code == 502 and "Authentication failure" in response.json()["detail"]


def test_config_saved_replaces_the_environment_and_removing_it_falls_back(provider, supervisor, api_as):
    client = api_as(supervisor)
    assert client.get("/api/sms/config").json()["source"] == "environment"
    saved = client.put(
        "/api/sms/config",
        {"base_url": provider.config().base_url, "username": "mayday", "password": "secret", "webhook_token": "tok"},
        format="json",
    )
    assert saved.status_code == 200, saved.content
    body = saved.json()
    assert body["source"] == "database" and body["has_password"] and body["has_webhook_token"]
    assert "password" not in body and "webhook_token" not in body and "secret" not in saved.content.decode()
    # A change without the secret keeps it.
    assert client.put("/api/sms/config", {"default_sender": "Mayday"}, format="json").status_code == 200
    assert ProviderSettings.objects.get().password == "secret"
    assert client.get("/api/sms/balance").status_code == 200  # the saved settings are used
    assert client.delete("/api/sms/config").status_code == 204
    assert client.get("/api/sms/config").json()["source"] == "environment"


@pytest.mark.parametrize(
    "body, words",
    [
        ({"base_url": "http://x.test/secure", "username": "u", "password": "p", "auth_header": "Basic eA=="}, "both"),
        ({"base_url": "ftp://x.test/secure", "username": "u", "password": "p"}, "http"),
        ({"base_url": "http://x.test/secure", "auth_header": "Basic x\r\nX-Evil: 1"}, "CR or LF"),
        ({"base_url": "http://x.test/secure", "username": "u", "password": "p", "override_ip": "sms.test"}, "IP"),
    ],
)
def test_bad_config_is_refused_and_nothing_saved(supervisor, api_as, body, words):
    response = api_as(supervisor).put("/api/sms/config", body, format="json")
    assert response.status_code == 400 and words.lower() in str(response.json()).lower()
    assert not ProviderSettings.objects.exists()


def thread_message(agent, customer: str, content: str, direction=Direction.OUTBOUND) -> Message:
    return Message.objects.create(
        direction=direction,
        customer=customer,
        content=content,
        status=Status.SENT if direction == Direction.OUTBOUND else Status.RECEIVED,
        agent=agent if direction == Direction.OUTBOUND else None,
    )


def test_conversations_are_the_latest_of_each_thread_in_one_query(
    agent, supervisor, api_as, django_assert_max_num_queries
):
    other = AgentFactory(extension="1006", pbx=agent.pbx)
    thread_message(agent, "+256700771301", "first")
    thread_message(agent, "+256700771301", "thanks", Direction.INBOUND)
    thread_message(other, "+256700771302", "theirs")
    thread_message(None, "+256700771303", "nobody's", Direction.INBOUND)
    client = api_as(agent.user)
    with django_assert_max_num_queries(6):  # auth, token touch, the count, the page: not one per thread
        mine = client.get("/api/sms/conversations").json()
    assert [(m["customer"], m["content"]) for m in mine["results"]] == [("+256700771301", "thanks")]
    everyone = api_as(supervisor).get("/api/sms/conversations").json()
    assert [m["content"] for m in everyone["results"]] == ["nobody's", "theirs", "thanks"]
    thread = client.get("/api/sms/conversations/0700771301").json()  # any spelling of the number
    assert [m["content"] for m in thread["results"]] == ["first", "thanks"]
    assert client.get("/api/sms/conversations/0700771302").json()["results"] == []  # another agent's thread
    assert client.get("/api/sms/conversations/07x").status_code == 400
