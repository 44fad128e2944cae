"""Text messages with customers: what was sent and received, the provider's delivery reports as they came, and
the provider's settings saved at run time."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

if TYPE_CHECKING:
    from sms.provider import ProviderConfig


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "To the customer"
    INBOUND = "inbound", "From the customer"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Being handed to the provider"
    SENT = "sent", "Accepted by the provider"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Not delivered"
    FAILED = "failed", "Failed"
    RECEIVED = "received", "Received"


# A message only moves forward: a report that arrives late (a level-1 "accepted" after "delivered") changes
# nothing. The three outcomes are final; the first one heard stands.
RANK = {
    Status.QUEUED: 0,
    Status.SENDING: 1,
    Status.SENT: 2,
    Status.DELIVERED: 3,
    Status.UNDELIVERED: 3,
    Status.FAILED: 3,
    Status.RECEIVED: 3,
}


class Message(models.Model):
    """One text, to or from a customer. `customer` is the customer's number in E.164, which threads them;
    `our_number` the sender name or number we used, or the number the customer wrote to."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    customer = models.CharField(max_length=24)
    our_number = models.CharField("our number or sender", max_length=24, blank=True)
    content = models.TextField()
    encoding = models.CharField(max_length=8, blank=True)
    segments = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices)
    error = models.TextField(blank=True)
    # Unique: a reply the provider posts twice is one message (empty until the provider has given one).
    provider_id = models.CharField("provider's id", max_length=64, null=True, blank=True, unique=True)
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="sms_messages"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (NULL: no key)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="sms_thread")]
        # NULL keys are distinct: messages sent without a key are never taken for one another.
        constraints = [models.UniqueConstraint(fields=["requested_by", "idempotency_key"], name="sms_once_per_key")]
        verbose_name = "SMS message"

    def __str__(self) -> str:
        arrow = "→" if self.direction == Direction.OUTBOUND else "←"
        return f"{arrow} {self.customer}: {self.content[:40]}"


class DeliveryReport(models.Model):
    """A delivery report as the provider posted it, kept whole for audit; `message` once it is applied (a
    report may come before our own send has recorded the provider's id: it waits here until it does)."""

    provider_id = models.CharField("provider's id", max_length=64, db_index=True)
    level = models.PositiveSmallIntegerField(null=True)
    message_status = models.CharField(max_length=32)
    fields = models.JSONField()
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="delivery_reports"
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "delivery report"

    def __str__(self) -> str:
        return f"{self.provider_id}: level {self.level} {self.message_status}"


# What a supervisor sets (admin form, API), in the order shown; password, auth_header and webhook_token are secrets.
SETTINGS_FIELDS = [
    "base_url",
    "username",
    "password",
    "auth_header",
    "default_sender",
    "dlr_url",
    "override_ip",
    "webhook_token",
]


class ProviderSettings(models.Model):
    """The provider's settings saved at run time (admin or API). While this row exists it is what Mayday uses,
    whole; deleting it falls back to the environment (MAYDAY_SMS_*). Secrets are write-only."""

    base_url = models.CharField(
        "base URL", max_length=200, help_text="The gateway's REST API, e.g. https://sms.example.com/secure."
    )
    username = models.CharField(max_length=64, blank=True)
    password = models.CharField(max_length=128, blank=True)
    auth_header = models.CharField(
        "Authorization header",
        max_length=512,
        blank=True,
        help_text="A ready header value (e.g. Basic …), instead of a user name and password.",
    )
    default_sender = models.CharField(max_length=24, blank=True, help_text="The sender customers see, e.g. Hugamara.")
    dlr_url = models.CharField(
        "delivery report URL",
        max_length=300,
        blank=True,
        help_text="Where the gateway posts delivery reports: this site's /api/sms/dlr. Empty: none are asked for.",
    )
    override_ip = models.GenericIPAddressField(
        "override IP",
        null=True,
        blank=True,
        help_text="Connect to this address when DNS cannot find the gateway; its certificate is still checked "
        "against the base URL's host name.",
    )
    webhook_token = models.CharField(
        max_length=128,
        blank=True,
        help_text="The secret in the URLs the gateway posts to (?token=…). Empty: MAYDAY_SMS_WEBHOOK_TOKEN.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "SMS provider settings"
        verbose_name_plural = "SMS provider settings"

    def __str__(self) -> str:
        return f"SMS provider at {self.base_url}"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1  # one row: the settings in use
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from sms.provider import validate_config

        try:
            validate_config(self.config())
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def config(self) -> ProviderConfig:
        from sms.provider import ProviderConfig

        return ProviderConfig(
            base_url=self.base_url,
            username=self.username,
            password=self.password,
            auth_header=self.auth_header,
            default_sender=self.default_sender,
            dlr_url=self.dlr_url,
            override_ip=self.override_ip or "",
        )
