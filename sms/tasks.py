"""SMS work for Celery workers: sending, retried with exponential backoff and jitter while the provider cannot
be reached. Acknowledged late: a worker that dies mid-task leaves the task to another, and the message's status
decides what that one may still do (nothing, once the message was claimed). Inline (the embedded setup) a send is
tried once, and the sweep, every minute, tries again what is due by the same backoff."""

from __future__ import annotations

import random

from celery import shared_task

from sms import services
from sms.provider import ProviderError

MAX_RETRIES = 8


def _backoff(retries: int) -> float:
    """1, 2, 4 … 256 s, with full jitter: many messages failing at once do not come back at once."""
    return random.uniform(0.5, 1.0) * 2**retries  # noqa: S311 (jitter, not secrecy)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True, reject_on_worker_lost=True)
def send_message(self, message_id: str) -> None:
    try:
        services.message_deliver(message_id=message_id)
    except ProviderError as exc:
        if self.request.is_eager:
            return  # queued again: the sweep retries it when due
        if self.request.retries >= self.max_retries:
            services.message_give_up(message_id=message_id, error=f"{exc.message} (gave up after retrying)")
            return
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task
def sweep_messages() -> None:
    """Fail the sends a dead worker cut off; inline, send again the queued messages whose retry is due."""
    from telephony.tasks import enqueue

    services.messages_interrupted()
    if send_message.app.conf.task_always_eager:
        for message_id, customer in services.messages_due(backoff=_backoff, give_up_after=MAX_RETRIES):
            enqueue(send_message, str(message_id), key=f"sms-{customer}")
