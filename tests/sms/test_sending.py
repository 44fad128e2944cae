"""Sending through the provider (a real HTTP server on loopback): once, retried while it cannot be reached,
failed with its words when it refuses, never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sms import services, tasks
from sms.models import Message, Status

TO = "+256700771301"


def send(agent, content="Your table for 4 is booked for 8 pm.", key="", capture=None) -> Message:
    with capture(execute=True):
        message, _ = services.message_send(user=agent.user, agent=agent, to=TO, content=content, idempotency_key=key)
    message.refresh_from_db()
    return message


def test_a_message_goes_to_the_provider_once_with_our_report_url(provider, agent, django_capture_on_commit_callbacks):
    message = send(agent, capture=django_capture_on_commit_callbacks)
    assert message.status == Status.SENT and message.provider_id and message.sent_at
    [body] = provider.sent
    assert body == {
        "to": TO,
        "from": "Hugamara",
        "content": "Your table for 4 is booked for 8 pm.",
        "dlr": "yes",
        "dlr-url": "https://mayday.example.test/api/sms/dlr?token=hook-secret",
        "dlr-level": 3,
    }
    assert (message.segments, message.encoding, message.agent) == (1, "GSM-7", agent)


def test_text_gsm_lacks_goes_as_ucs2(provider, agent, django_capture_on_commit_callbacks):
    message = send(agent, content="Karibu 😊", capture=django_capture_on_commit_callbacks)
    [body] = provider.sent
    assert body["coding"] == 8 and bytes.fromhex(body["hex-content"]).decode("utf-16-be") == "Karibu 😊"
    assert "content" not in body and (message.encoding, message.segments) == ("UCS-2", 1)


@pytest.mark.parametrize(
    "status, body, words",
    [
        (403, {"message": 'Error "Authentication failure for username:mayday'}, "Authentication failure"),
        (412, {"message": 'Error "No route found'}, "No route found"),
        (400, {"message": 'Error "Cannot parse JSON data'}, "Cannot parse JSON data"),
    ],
)
def test_a_refusal_fails_the_message_with_the_providers_words(
    provider, agent, status, body, words, django_capture_on_commit_callbacks
):
    provider.reply_send(status, body)
    message = send(agent, capture=django_capture_on_commit_callbacks)
    assert message.status == Status.FAILED and words in message.error and message.failed_at
    assert len(provider.sent) == 1


def test_a_server_error_is_tried_again_when_due_and_then_sent(provider, agent, django_capture_on_commit_callbacks):
    provider.reply_send(500, "Internal Server Error")
    message = send(agent, capture=django_capture_on_commit_callbacks)
    assert (message.status, message.attempts) == (Status.QUEUED, 1) and "500" in message.error
    tasks.sweep_messages.apply()  # not due yet: the backoff has not run out
    assert len(provider.sent) == 1
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now() - timedelta(seconds=5))
    tasks.sweep_messages.apply()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error) == (Status.SENT, 2, "")
    assert len(provider.sent) == 2


def test_a_provider_that_stays_away_fails_the_message_after_the_last_try(
    provider, agent, django_capture_on_commit_callbacks
):
    provider.reply_send(503, "busy")
    message = send(agent, capture=django_capture_on_commit_callbacks)
    Message.objects.filter(pk=message.pk).update(attempts=tasks.MAX_RETRIES)
    tasks.sweep_messages.apply()
    message.refresh_from_db()
    assert message.status == Status.FAILED and message.error == "busy (HTTP 503) (gave up after 8 tries)"


def test_a_timeout_is_retryable_and_a_slow_answer_is_fine(
    provider, agent, monkeypatch, django_capture_on_commit_callbacks
):
    provider.delay = 0.3
    assert send(agent, capture=django_capture_on_commit_callbacks).status == Status.SENT  # slow, within the limit
    config = services.provider_config()
    monkeypatch.setattr(services, "provider_config", lambda: type(config)(**{**vars(config), "read_timeout": 0.1}))
    late = send(agent, key="late", capture=django_capture_on_commit_callbacks)
    assert late.status == Status.QUEUED and "did not answer in time" in late.error


def test_an_answer_that_is_not_understood_fails_without_a_second_send(
    provider, agent, django_capture_on_commit_callbacks
):
    provider.reply_send(200, "<html>maintenance</html>", content_type="text/html")
    message = send(agent, capture=django_capture_on_commit_callbacks)
    assert message.status == Status.FAILED and "not understood" in message.error
    tasks.sweep_messages.apply()
    assert len(provider.sent) == 1


def test_the_same_key_gives_the_same_message_and_one_send(provider, agent, django_capture_on_commit_callbacks):
    first = send(agent, key="k1", capture=django_capture_on_commit_callbacks)
    again = send(agent, key="k1", capture=django_capture_on_commit_callbacks)
    assert first.pk == again.pk and len(provider.sent) == 1


def test_a_send_cut_off_by_a_dead_worker_is_never_sent_again(provider, agent, django_capture_on_commit_callbacks):
    """The task claimed the message (sending) and died: its redelivery sends nothing, and the sweep says so."""
    message = Message.objects.create(
        direction="outbound", customer=TO, content="hi", status=Status.SENDING, agent=agent, segments=1
    )
    tasks.send_message.apply(args=[str(message.pk)])  # the redelivered task
    assert provider.sent == []
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    tasks.sweep_messages.apply()
    message.refresh_from_db()
    assert message.status == Status.FAILED and "may or may not have it" in message.error
    assert provider.sent == []


def test_no_provider_configured_fails_visibly(settings, agent, django_capture_on_commit_callbacks):
    settings.MAYDAY_SMS = {**settings.MAYDAY_SMS, "base_url": ""}
    message = send(agent, capture=django_capture_on_commit_callbacks)
    assert message.status == Status.FAILED and "No SMS provider is configured" in message.error


def test_backoff_grows_with_jitter():
    for retries in range(6):
        waits = {tasks._backoff(retries) for _ in range(20)}
        assert all(2**retries * 0.5 <= w <= 2**retries for w in waits) and len(waits) > 1
