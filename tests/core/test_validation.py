"""Names and numbers that reach a PBX are allow-listed; bad ones get a clear message and change nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from agents.models import Agent
from telephony import validators
from telephony.models import Did, Queue
from tests.factories import AgentFactory, PbxServerFactory, QueueFactory

HOSTILE = [
    "10\r\n05",
    "1005\n",
    "10 05",
    "1005@evil",
    "1005;drop",
    "10|05",
    "",
    "x" * 65,
    "1005\r\nAction: Originate",
    "ünï",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_bad_extensions_are_rejected(value):
    with pytest.raises(ValidationError, match="not a valid extension"):
        validators.validate_extension(value)


@pytest.mark.parametrize("value", HOSTILE)
def test_bad_queue_names_are_rejected(value):
    with pytest.raises(ValidationError, match="not a valid name"):
        validators.validate_name(value)


@pytest.mark.parametrize(
    "value", ["0323\r\n300245", "0323 300245", "0323300245@x", "03;23", "03|23", "12", "++123", "0323300245\n", "abc"]
)
def test_bad_dids_are_rejected(value):
    with pytest.raises(ValidationError, match="not a valid DID"):
        validators.validate_did(value)


@pytest.mark.parametrize(
    "value", ["Lunch\r\nAction: Logoff", "Lunch ", " Lunch", "Two  spaces", "a@b", "a;b", "a|b", "x" * 65]
)
def test_bad_reasons_are_rejected(value):
    with pytest.raises(ValidationError, match="not a valid reason"):
        validators.validate_reason(value)


@pytest.mark.parametrize("value", ["10.0.0.1\r\n", "pbx host", "a@b", "a;b", "a|b", "-bad.example", "bad..example"])
def test_bad_domains_are_rejected(value):
    with pytest.raises(ValidationError, match="not a valid domain"):
        validators.validate_domain(value)


@pytest.mark.parametrize("good", ["1005", "agent_7", "sip-1.2"])
def test_good_names_pass(good):
    assert validators.validate_extension(good) == good
    assert validators.validate_name(good) == good


def test_good_values_pass():
    assert validators.validate_did("+254709000100") == "+254709000100"
    assert validators.validate_reason("Logged Out") == "Logged Out"
    assert validators.validate_domain("10.16.7.91") == "10.16.7.91"
    assert validators.validate_number("*97#") == "*97#"


@pytest.mark.django_db
def test_model_validation_names_the_field_and_the_rule():
    agent = AgentFactory.build(extension="10 05", pbx=PbxServerFactory(), user=None)
    with pytest.raises(ValidationError) as exc:
        agent.full_clean(exclude=["user"])
    assert "extension" in exc.value.message_dict
    assert "no spaces" in exc.value.message_dict["extension"][0]
    with pytest.raises(ValidationError) as exc:
        Did(number="0323;300", label="x").full_clean()
    assert "digits" in exc.value.message_dict["number"][0]


@pytest.mark.django_db
def test_queue_strategy_must_suit_the_pbx_kind():
    queue = QueueFactory.build(pbx=PbxServerFactory(kind="freeswitch", domain="default"), strategy="ringall")
    with pytest.raises(ValidationError) as exc:
        queue.full_clean()
    assert "longest-idle-agent" in exc.value.message_dict["strategy"][0]


def test_api_rejects_a_bad_queue_name_and_creates_nothing(api_as, supervisor, pbx):
    for name in ["sup\r\nport", "sup port", "sup@port", "sup;port", "sup|port"]:
        response = api_as(supervisor).post(
            "/api/queues/", {"name": name, "pbx": pbx.name, "strategy": "ringall"}, format="json"
        )
        assert response.status_code == 400
        assert "not a valid name" in response.json()["name"][0]
    assert not Queue.objects.exists() and not Agent.objects.exists()
