"""Agents (people who take calls) and the reasons they may pause for."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, Q
from django.db.models.functions import Lower
from django.utils import timezone

from telephony.models import outbound_did
from telephony.pbx.base import LOGGED_OUT_REASON, AgentMode
from telephony.validators import validate_extension, validate_reason

# The two roles (groups) Mayday seeds: supervisors work in the admin, agents on their dashboard.
SUPERVISORS_GROUP = "Supervisors"
AGENTS_GROUP = "Agents"


class Availability(models.TextChoices):
    """What the agent asked for, which Mayday makes true on the PBX."""

    AVAILABLE = AgentMode.AVAILABLE.value, "Available"
    ON_BREAK = AgentMode.ON_BREAK.value, "On break"
    LOGGED_OUT = AgentMode.LOGGED_OUT.value, "Logged out"


class SyncState(models.TextChoices):
    """Where the last requested change stands on the PBX."""

    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class Presence(models.TextChoices):
    """Whether the agent can take a call, best source first (see agents.selectors.presence_of)."""

    ONLINE = "online", "Online"
    REGISTERED = "registered", "Registered"
    OFFLINE = "offline", "Offline"


# How the phone system's side of a change reads to people (the PBX's own words are in sync_error).
SYNC_WORDS = {
    SyncState.PENDING: "Waiting for the phone system",
    SyncState.APPLIED: "Confirmed",
    SyncState.FAILED: "Refused by the phone system",
}

# What a queue member's phone is doing, in words (the PBX's device states, telephony.pbx.events).
DEVICE_WORDS = {
    "unknown": "Unknown",
    "not_in_use": "Idle",
    "in_use": "On a call",
    "busy": "Busy",
    "invalid": "Not found",
    "unavailable": "Unreachable",
    "ringing": "Ringing",
    "ringing_in_use": "Ringing, on a call",
    "on_hold": "On hold",
}

# Display names for the words the pages show (and their scripts, as they change).
LABELS = {
    **dict(Availability.choices),
    **dict(Presence.choices),
    **SYNC_WORDS,
    **{f"device_{state}": words for state, words in DEVICE_WORDS.items()},
}


class StatusSource(models.TextChoices):
    """Who changed an agent's availability."""

    AGENT = "agent", "Agent"
    SUPERVISOR = "supervisor", "Supervisor"
    PBX = "pbx", "PBX"
    SYSTEM = "system", "System"
    API = "api", "API"


class ClientType(models.TextChoices):
    CHROME_SOFTPHONE = "chrome_softphone", "Chrome softphone"
    ELECTRON_SOFTPHONE = "electron_softphone", "Electron softphone"
    WEBRTC = "webrtc", "WebRTC"
    OTHER = "other", "Other"


class Agent(models.Model):
    """A person who takes calls: one Django user, one extension on one PBX.

    `availability` (+ `pause_reason`) is the desired state since
    `status_since`; `sync_state` says whether the PBX has confirmed it, and
    `request_seq` counts requests so a late command result cannot mark a newer
    request applied. `pbx_status`/`pbx_state` are what a FreeSWITCH PBX last
    reported for the agent (mod_callcenter status/state); the `sip_` fields
    are what an Asterisk PBX last reported about its PJSIP endpoint and contact.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    extension = models.CharField(max_length=64, unique=True, validators=[validate_extension])
    display_name = models.CharField(max_length=100)
    pbx = models.ForeignKey("telephony.PbxServer", on_delete=models.PROTECT, related_name="agents", verbose_name="PBX")
    availability = models.CharField(max_length=16, choices=Availability.choices, default=Availability.LOGGED_OUT)
    pause_reason = models.ForeignKey(
        "agents.PauseReason", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    default_did = models.ForeignKey(
        "telephony.Did",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agents",
        limit_choices_to={"allow_outbound": True},
        verbose_name="default DID",
        help_text="The number the agent's calls present when no prefix or route chooses another.",
    )
    sync_state = models.CharField(
        "phone system", max_length=16, choices=SyncState.choices, default=SyncState.APPLIED, editable=False
    )
    sync_error = models.TextField(blank=True, editable=False)
    status_since = models.DateTimeField(default=timezone.now, editable=False)
    request_seq = models.PositiveIntegerField(default=0, editable=False)
    pbx_status = models.CharField(max_length=32, blank=True, editable=False)
    pbx_state = models.CharField(max_length=32, blank=True, editable=False)
    sip_endpoint = models.BooleanField("endpoint on the PBX", default=False, editable=False)
    sip_status = models.CharField("contact status", max_length=16, blank=True, editable=False)
    sip_uri = models.CharField("contact URI", max_length=255, blank=True, editable=False)
    sip_rtt_usec = models.PositiveIntegerField(null=True, blank=True, editable=False)
    sip_seen_at = models.DateTimeField("contact last reachable", null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["extension"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.extension})"

    def clean(self) -> None:
        outbound_did(self.default_did if self.default_did_id else None, "default_did")


class PauseReason(models.Model):
    """Why an agent is on break; sent to the PBX as the pause reason.

    Names are unique whatever their letter case ("Training" and "training"
    would be one reason to an agent). A new reason goes last; the default one
    (a break asked for without a reason) is chosen explicitly. A break longer
    than `max_minutes` shows as an alert on the team board.
    """

    name = models.CharField(max_length=64, unique=True, validators=[validate_reason])
    active = models.BooleanField(default=True, help_text="Offered to agents. Reasons the PBX made up start inactive.")
    display_order = models.PositiveSmallIntegerField(blank=True, help_text="Leave empty to put it last.")
    is_default = models.BooleanField(
        "default", default=False, help_text="Used when a break is asked for without a reason (one reason at most)."
    )
    max_minutes = models.PositiveSmallIntegerField(
        "allowed minutes", null=True, blank=True, help_text="A longer break is flagged on the team board."
    )

    class Meta:
        ordering = ["display_order", "name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="pausereason_name_unique_any_case"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="pausereason_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if self.display_order is None:
            last = PauseReason.objects.aggregate(last=Max("display_order"))["last"]
            self.display_order = min((last or 0) + 1, 32767)
        with transaction.atomic():
            if self.is_default:  # choosing a new default takes the mark from the old one
                PauseReason.objects.filter(is_default=True).exclude(pk=self.pk).update(is_default=False)
            super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.name.casefold() == LOGGED_OUT_REASON.casefold():
            raise ValidationError({"name": f"“{LOGGED_OUT_REASON}” is how a logged-out agent shows in a queue."})
        clash = PauseReason.objects.filter(name__iexact=self.name).exclude(pk=self.pk).first()
        if clash is not None:
            raise ValidationError({"name": f"“{clash.name}” already exists; names differ by more than letter case."})
        if self.is_default and not self.active:
            raise ValidationError({"is_default": "The default reason must be active."})


# What the PBX says about an agent as a whole (FreeSWITCH agent status/state, PJSIP endpoint and contact):
# filled by the listener and reconciliation, read-only to people.
AGENT_OBSERVED_FIELDS = [
    "pbx_status",
    "pbx_state",
    "sip_endpoint",
    "sip_status",
    "sip_uri",
    "sip_rtt_usec",
    "sip_seen_at",
]


class AgentStatusEvent(models.Model):
    """One availability transition: the audit trail and the basis for time in state."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="status_events")
    from_availability = models.CharField(max_length=16, choices=Availability.choices)
    to_availability = models.CharField(max_length=16, choices=Availability.choices)
    reason = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=16, choices=StatusSource.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["agent", "created_at"])]
        verbose_name = "status change"

    def __str__(self) -> str:
        return f"{self.agent.extension}: {self.from_availability} -> {self.to_availability}"


class ClientSession(models.Model):
    """A softphone (or other client) signed in as an agent; alive while it sends heartbeats.

    `expires_at` moves forward with every heartbeat; a session past it, or
    closed, no longer makes its agent online (after the presence grace period).
    """

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="sessions")
    token = models.CharField(max_length=64, unique=True, editable=False)
    client_type = models.CharField(max_length=32, choices=ClientType.choices)
    fingerprint = models.CharField(max_length=128, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_heartbeat_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-last_heartbeat_at"]
        verbose_name = "client session"

    def __str__(self) -> str:
        return f"{self.agent.extension} {self.client_type} since {self.created_at:%Y-%m-%d %H:%M}"

    def live_at(self, now) -> bool:
        return self.closed_at is None and self.expires_at > now

    def last_live(self):
        """The last moment this session counted as live."""
        return min(self.closed_at or self.expires_at, self.expires_at)
