"""Agents (people who take calls) and the reasons they may pause for."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from telephony.validators import validate_extension, validate_reason


class Availability(models.TextChoices):
    """What the agent asked for, which Mayday makes true on the PBX."""

    AVAILABLE = "available", "Available"
    ON_BREAK = "on_break", "On break"
    LOGGED_OUT = "logged_out", "Logged out"


class SyncState(models.TextChoices):
    """Where the last requested change stands on the PBX."""

    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class Agent(models.Model):
    """A person who takes calls: one Django user, one extension on one PBX.

    `availability` (+ `pause_reason`) is the desired state; `sync_state` says
    whether the PBX has confirmed it. `pbx_status`/`pbx_state` are what a
    FreeSWITCH PBX last reported for the agent (mod_callcenter status/state).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    extension = models.CharField(max_length=64, unique=True, validators=[validate_extension])
    display_name = models.CharField(max_length=100)
    pbx = models.ForeignKey("telephony.PbxServer", on_delete=models.PROTECT, related_name="agents", verbose_name="PBX")
    availability = models.CharField(max_length=16, choices=Availability.choices, default=Availability.LOGGED_OUT)
    pause_reason = models.ForeignKey(
        "agents.PauseReason", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.APPLIED, editable=False)
    sync_error = models.TextField(blank=True, editable=False)
    pbx_status = models.CharField(max_length=32, blank=True, editable=False)
    pbx_state = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["extension"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.extension})"


class PauseReason(models.Model):
    """Why an agent is on break; sent to the PBX as the pause reason."""

    name = models.CharField(max_length=64, unique=True, validators=[validate_reason])
    active = models.BooleanField(default=True)
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["display_order", "name"]

    def __str__(self) -> str:
        return self.name
