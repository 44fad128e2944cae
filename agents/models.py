"""Agents (people who take calls) and the reasons they may pause for."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from telephony.validators import validate_extension, validate_reason


class Agent(models.Model):
    """A person who takes calls: one Django user, one extension on one PBX."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    extension = models.CharField(max_length=64, unique=True, validators=[validate_extension])
    display_name = models.CharField(max_length=100)
    pbx = models.ForeignKey("telephony.PbxServer", on_delete=models.PROTECT, related_name="agents", verbose_name="PBX")
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
