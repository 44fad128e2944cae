"""What the provider posts: delivery reports and replies. Answered `ACK/Jasmin`, idempotent, never moving a
message backwards, kept until their message is known; a wrong token or a junk body changes nothing."""

from __future__ import annotations

import logging

import pytest

from sms import services
from sms.models import DeliveryReport, Direction, Message, Status

TOKEN = "hook-secret"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.MAYDAY_SMS_WEBHOOK_TOKEN = TOKEN


@pytest.fixture
def sent(db, agent):
    return Message.objects.create(
        direction=Direction.OUTBOUND,
        customer="+256700771301",
        content="Booked.",
        status=Status.SENT,
        provider_id="b8c2e0a4-1a2b-4c5d-8e9f-000000000001",
        agent=agent,
        segments=1,
    )


def dlr(client, token=TOKEN, **fields):
    return client.post(f"/api/sms/dlr?token={token}", fields)


def level2(message_id: str, status: str, err: str = "000") -> dict:
    return {
        "id": message_id,
        "level": "2",
        "message_status": status,
        "id_smsc": "2746910",
        "sub": "001",
        "dlvrd": "001",
        "subdate": "2612011530",
        "donedate": "2612011531",
        "err": err,
        "text": "Booked.",
    }


@pytest.mark.parametrize(
    "fields, status, error",
    [
        ({"level": "1", "message_status": "ESME_ROK"}, Status.SENT, ""),
        (
            {"level": "1", "message_status": "ESME_RINVDSTADR"},
            Status.FAILED,
            "The operator refused it: ESME_RINVDSTADR",
        ),
        (level2("", "DELIVRD"), Status.DELIVERED, ""),
        (level2("", "UNDELIV", "011"), Status.UNDELIVERED, "Not delivered: UNDELIV (error 011)"),
        (level2("", "EXPIRED"), Status.UNDELIVERED, "Not delivered: EXPIRED"),
        (level2("", "REJECTD"), Status.UNDELIVERED, "Not delivered: REJECTD"),
        (level2("", "DELETED"), Status.UNDELIVERED, "Not delivered: DELETED"),
        (level2("", "ACCEPTD"), Status.SENT, ""),
        (level2("", "UNKNOWN"), Status.SENT, ""),
        ({**level2("", "DELIVRD"), "level": "3"}, Status.DELIVERED, ""),
    ],
)
def test_each_report_moves_its_message(client, sent, fields, status, error):
    response = dlr(client, **{**fields, "id": sent.provider_id})
    assert (response.status_code, response.content) == (200, b"ACK/Jasmin")
    sent.refresh_from_db()
    assert (sent.status, sent.error) == (status, error)
    report = DeliveryReport.objects.get()
    assert report.message == sent and report.fields["message_status"] == fields["message_status"]


def test_reports_twice_or_out_of_order_never_move_a_message_back(client, sent):
    for _ in range(2):
        assert dlr(client, **level2(sent.provider_id, "DELIVRD")).content == b"ACK/Jasmin"
    dlr(client, id=sent.provider_id, level="1", message_status="ESME_ROK")  # late: the network's acceptance
    dlr(client, **level2(sent.provider_id, "UNDELIV"))  # a second outcome: the first stands
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED and sent.delivered_at and sent.error == ""
    assert DeliveryReport.objects.filter(message=sent).count() == 4  # every report kept, for audit


def test_a_report_before_the_send_is_recorded_waits_for_it(client, provider_less_message):
    message, provider_id = provider_less_message
    assert dlr(client, **level2(provider_id, "DELIVRD")).content == b"ACK/Jasmin"
    assert DeliveryReport.objects.get().message is None  # nothing to apply it to yet
    services._advance(message.pk, Status.SENT, provider_id=provider_id, error="")  # the send records the id
    services.reports_apply(provider_id=provider_id)
    message.refresh_from_db()
    assert message.status == Status.DELIVERED and DeliveryReport.objects.get().message == message


@pytest.fixture
def provider_less_message(db, agent):
    message = Message.objects.create(
        direction=Direction.OUTBOUND, customer="+256700771301", content="x", status=Status.SENDING, agent=agent
    )
    return message, "c0ffee00-0000-4000-8000-000000000002"


def test_a_wrong_or_missing_token_is_refused_logged_and_changes_nothing(client, sent, caplog):
    with caplog.at_level(logging.WARNING, logger="sms.api"):
        assert dlr(client, token="guess", **level2(sent.provider_id, "DELIVRD")).status_code == 403
        assert client.post("/api/sms/dlr", level2(sent.provider_id, "DELIVRD")).status_code == 403
        assert (
            client.post("/api/sms/inbound?token=x", {"id": "1", "from": "+256700771301", "to": "x"}).status_code == 403
        )
    assert "wrong or missing token" in caplog.text
    sent.refresh_from_db()
    assert sent.status == Status.SENT and not DeliveryReport.objects.exists()


def test_no_token_configured_refuses_everything(client, sent, settings):
    settings.MAYDAY_SMS_WEBHOOK_TOKEN = ""
    assert dlr(client, token="", **level2(sent.provider_id, "DELIVRD")).status_code == 403


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"level": "2", "message_status": "DELIVRD"},
        {"id": "x", "level": "2"},
        {"id": "x", "level": "7", "message_status": "DELIVRD"},
        {"id": "x", "message_status": "DELIVRD"},
        {"id": "x" * 65, "level": "2", "message_status": "DELIVRD"},
        {"id": "x\r\nInjected: 1", "level": "2", "message_status": "DELIVRD"},
    ],
)
def test_junk_reports_get_400_and_change_nothing(client, sent, fields):
    response = dlr(client, **fields)
    assert response.status_code == 400 and response.content
    assert not DeliveryReport.objects.exists()


def test_reports_come_by_post_only(client, sent):
    assert client.get(f"/api/sms/dlr?token={TOKEN}&id={sent.provider_id}").status_code == 405


def reply(client, **fields):
    body = {"id": "mo-1", "from": "256700771301", "to": "Hugamara", "content": "Thanks, see you", **fields}
    return client.post(f"/api/sms/inbound?token={TOKEN}", {**body, "origin-connector": "smppc-01"})


def test_a_reply_is_one_message_however_often_it_is_posted(client, sent):
    for _ in range(2):
        response = reply(client)
        assert (response.status_code, response.content) == (200, b"ACK/Jasmin")
    [received] = Message.objects.filter(direction=Direction.INBOUND)
    assert (received.customer, received.our_number, received.content, received.status) == (
        "+256700771301",
        "Hugamara",
        "Thanks, see you",
        Status.RECEIVED,
    )
    assert received.customer == sent.customer  # the same thread as our message


@pytest.mark.parametrize(
    "fields", [{"from": ""}, {"content": ""}, {"id": ""}, {"from": "not a number"}, {"from": "12"}]
)
def test_junk_replies_get_400(client, db, fields):
    assert reply(client, **fields).status_code == 400
    assert not Message.objects.exists()
