"""Writes about text messages: sending through the provider (once), delivery reports and replies as the
provider posts them, and the provider's settings.

A message is sent by a task after its row is committed. The row's status decides what the task may do: it
claims a queued message (queued → sending) before calling the provider, so a task run twice (a retry, a worker
that died and a redelivery) never sends twice; a send interrupted past the provider's timeouts is failed with
words that say so, never sent again behind anyone's back.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from agents import live
from sms import segments
from sms.models import RANK, DeliveryReport, Direction, Message, ProviderSettings, Status
from sms.provider import ProviderError
from sms.selectors import dlr_url, jasmin_client, provider_config

log = logging.getLogger(__name__)

# Jasmin's level-2 (handset) statuses, as the message's outcome; ACCEPTD and UNKNOWN say nothing final yet.
HANDSET = {
    "DELIVRD": Status.DELIVERED,
    "EXPIRED": Status.UNDELIVERED,
    "DELETED": Status.UNDELIVERED,
    "UNDELIV": Status.UNDELIVERED,
    "REJECTD": Status.UNDELIVERED,
    "ACCEPTD": Status.SENT,
    "UNKNOWN": Status.SENT,
}
# A send still "sending" this long after it started was cut off (a worker died mid-request).
INTERRUPTED_AFTER = timedelta(minutes=2)


MAX_SEGMENTS = 10  # a longer text is refused before it is queued


def content_check(content: str) -> str:
    """A text worth sending: not empty, at most MAX_SEGMENTS SMS. ValidationError with the reason."""
    if not content.strip():
        raise ValidationError("The message is empty.")
    count = segments.count(content)
    if count.segments > MAX_SEGMENTS:
        raise ValidationError(
            f"The message takes {count.segments} SMS ({count.encoding}); at most {MAX_SEGMENTS} are sent."
        )
    return content


def message_send(
    *, user, agent, to: str, content: str, sender: str = "", idempotency_key: str = ""
) -> tuple[Message, bool]:
    """Record a text to a customer (`to` already in E.164) and hand it to the provider once committed. With an
    idempotency key, the same key from the same user gives the same message. Returns it and whether it is new."""
    from sms import tasks
    from telephony.tasks import enqueue

    count = segments.count(content)
    fields = {
        "direction": Direction.OUTBOUND,
        "customer": to,
        "our_number": sender,
        "content": content,
        "encoding": count.encoding,
        "segments": count.segments,
        "status": Status.QUEUED,
        "agent": agent,
    }
    with transaction.atomic():
        if idempotency_key:
            message, created = Message.objects.get_or_create(
                requested_by=user, idempotency_key=idempotency_key, defaults=fields
            )
        else:
            message, created = Message.objects.create(requested_by=user, **fields), True
        if created:
            # Inline (the embedded setup) on a lane, off the request; one customer's texts in order.
            transaction.on_commit(lambda: enqueue(tasks.send_message, str(message.pk), key=f"sms-{to}"))
            _announce([message])
    return message, created


def message_deliver(*, message_id: str) -> None:
    """Hand a queued message to the provider. Raises ProviderError when trying again may work (nothing was
    accepted): the message is queued again for the task's retry."""
    now = timezone.now()
    if not Message.objects.filter(pk=message_id, status=Status.QUEUED).update(
        status=Status.SENDING, updated_at=now, attempts=F("attempts") + 1
    ):
        return  # sent, sending elsewhere, or failed: never twice
    message = Message.objects.get(pk=message_id)
    config = provider_config()
    if config is None:
        _fail(message, "No SMS provider is configured (MAYDAY_SMS_URL or the admin's SMS provider settings).")
        return
    try:
        with jasmin_client(config) as gateway:
            provider_id = gateway.send(
                to=message.customer,
                sender=message.our_number or config.default_sender,
                content=message.content,
                dlr_url=dlr_url(config),
            )
    except ProviderError as exc:
        words = f"{exc.message} (HTTP {exc.status})" if exc.status else exc.message
        if exc.retryable:
            Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
                status=Status.QUEUED, error=words[:2000], updated_at=timezone.now()
            )
            _announce([message.pk])
            raise
        _fail(message, words)
        return
    _advance(message.pk, Status.SENT, provider_id=provider_id, error="")
    reports_apply(provider_id=provider_id)


def messages_due(*, backoff, give_up_after: int) -> list[tuple]:
    """Queued messages whose last try failed and whose next try is due (after `backoff(attempts - 1)` seconds);
    those tried `give_up_after` times are failed instead."""
    now = timezone.now()
    due = []
    for message_id, customer, attempts, error, updated_at in Message.objects.filter(
        status=Status.QUEUED, attempts__gt=0
    ).values_list("pk", "customer", "attempts", "error", "updated_at"):
        if attempts >= give_up_after:
            message_give_up(message_id=message_id, error=f"{error} (gave up after {attempts} tries)")
        elif updated_at <= now - timedelta(seconds=backoff(attempts - 1)):
            due.append((message_id, customer))
    return due


def message_give_up(*, message_id: str, error: str) -> None:
    """The provider stayed away through every retry."""
    message = Message.objects.filter(pk=message_id).first()
    if message is not None and message.status in (Status.QUEUED, Status.SENDING):
        _fail(message, error)


def messages_interrupted() -> int:
    """Sends cut off mid-request (the worker died): failed with words that say the message may have gone out,
    so an agent checks before sending it again."""
    stale = Message.objects.filter(status=Status.SENDING, updated_at__lt=timezone.now() - INTERRUPTED_AFTER)
    ids = list(stale.values_list("pk", flat=True))
    if ids:
        Message.objects.filter(pk__in=ids, status=Status.SENDING).update(
            status=Status.FAILED,
            failed_at=timezone.now(),
            updated_at=timezone.now(),
            error="The send was interrupted: the provider may or may not have it. Check before sending again.",
        )
        _announce(ids)
    return len(ids)


def _fail(message: Message, error: str) -> None:
    _advance(message.pk, Status.FAILED, error=error[:2000])


def _advance(message_id, status: str, **fields) -> bool:
    """Move a message forward to `status` (never back, never from one outcome to another); say whether it moved."""
    now = timezone.now()
    stamp = {Status.SENT: "sent_at", Status.DELIVERED: "delivered_at"}.get(
        status, "failed_at" if status in (Status.UNDELIVERED, Status.FAILED) else None
    )
    earlier = [s for s, rank in RANK.items() if rank < RANK[status]]
    moved = Message.objects.filter(pk=message_id, status__in=earlier).update(
        status=status, updated_at=now, **({stamp: now} if stamp else {}), **fields
    )
    if moved:
        _announce([message_id])
    elif fields.get("provider_id"):  # a report got there first: keep the provider's id all the same
        Message.objects.filter(pk=message_id, provider_id=None).update(provider_id=fields["provider_id"])
    return bool(moved)


# ---- what the provider posts -------------------------------------------------------------------------------


def report_record(*, fields: dict[str, str]) -> DeliveryReport:
    """Keep a delivery report as it came and apply it to its message, if that message is known yet."""
    level = fields.get("level", "")
    report = DeliveryReport.objects.create(
        provider_id=fields["id"],
        level=int(level) if level.isdigit() else None,
        message_status=fields.get("message_status", "")[:32],
        fields=fields,
    )
    reports_apply(provider_id=report.provider_id)
    return report


def reports_apply(*, provider_id: str) -> None:
    """Apply the reports of this provider id that wait for their message, in the order they came."""
    message = Message.objects.filter(provider_id=provider_id, direction=Direction.OUTBOUND).first()
    if message is None:
        return  # its send has not recorded the id yet: it applies them when it does
    waiting = list(DeliveryReport.objects.filter(provider_id=provider_id, message=None).order_by("pk"))
    for report in waiting:
        status, error = _outcome(report)
        if status is not None:
            _advance(message.pk, status, **({"error": error} if error else {}))
    DeliveryReport.objects.filter(pk__in=[r.pk for r in waiting]).update(message=message)


def _outcome(report: DeliveryReport) -> tuple[str | None, str]:
    """What a report says of the message: level 1 is the operator's network (ESME_ROK: accepted, any other
    ESME_R… code: refused), level 2 and 3 the handset's receipt."""
    said = report.message_status
    if report.level == 1 or said.startswith("ESME_"):
        return (Status.SENT, "") if said == "ESME_ROK" else (Status.FAILED, f"The operator refused it: {said}")
    status = HANDSET.get(said)
    if status == Status.UNDELIVERED:
        err = report.fields.get("err", "")
        return status, f"Not delivered: {said}" + (f" (error {err})" if err and err != "000" else "")
    return status, ""


def reply_record(*, fields: dict[str, str], customer: str, our_number: str) -> tuple[Message, bool]:
    """A customer's reply (mobile-originated), once per provider id however often it is posted."""
    count = segments.count(fields["content"])
    message = Message(
        direction=Direction.INBOUND,
        customer=customer,
        our_number=our_number,
        content=fields["content"],
        encoding=count.encoding,
        segments=count.segments,
        status=Status.RECEIVED,
        provider_id=fields["id"],
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return Message.objects.get(direction=Direction.INBOUND, provider_id=fields["id"]), False
    _announce([message])
    return message, True


def _announce(messages: list) -> None:
    """Pages showing these messages' threads get them, once the change is committed."""
    ids = [m.pk if isinstance(m, Message) else m for m in messages]
    live.sms_changed(message_ids=ids)


# ---- provider settings --------------------------------------------------------------------------------------


def settings_save(*, user, values: dict) -> ProviderSettings:
    """Save the provider's settings (they replace the environment's). A secret left out keeps the stored one;
    choosing one way to sign in clears the other."""
    if values.get("auth_header") and (values.get("username") or values.get("password")):
        raise ValidationError("Give either a user name and password or an Authorization header, not both.")
    row = ProviderSettings.objects.filter(pk=1).first() or ProviderSettings()
    for key, value in values.items():
        setattr(row, key, value)
    if values.get("auth_header"):
        row.username = row.password = ""
    elif values.get("username") or values.get("password"):
        row.auth_header = ""
    row.updated_by = user
    row.full_clean()
    row.save()
    return row


def settings_remove() -> None:
    """Back to the environment's settings."""
    ProviderSettings.objects.filter(pk=1).delete()


def balance_check():
    """The provider's answer to a balance request (ProviderError when it has none)."""
    config = provider_config()
    if config is None:
        raise ProviderError("No SMS provider is configured.", retryable=False)
    with jasmin_client(config) as gateway:
        return gateway.balance()
