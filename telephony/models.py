"""The phone system as Mayday knows it: PBX servers, queues, memberships and DIDs."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from telephony.validators import (
    validate_agent_number,
    validate_contact_template,
    validate_did,
    validate_domain,
    validate_name,
    validate_secret,
)


class PbxKind(models.TextChoices):
    ASTERISK = "asterisk", "Asterisk (AMI)"
    FREESWITCH = "freeswitch", "FreeSWITCH (ESL)"


DEFAULT_PORTS = {PbxKind.ASTERISK: 5038, PbxKind.FREESWITCH: 8021}


class ConnectionState(models.TextChoices):
    UNKNOWN = "unknown", "Not connected yet"
    CONNECTED = "connected", "Connected"
    DISCONNECTED = "disconnected", "Disconnected"
    ERROR = "error", "Error"


class PbxServer(models.Model):
    """A PBX Mayday drives: an Asterisk manager (AMI) or a FreeSWITCH event socket (ESL).

    `secret` is write-only: forms and the API accept it but never show it.
    The connection fields are filled by the PBX listener, not by people.
    """

    name = models.CharField(max_length=64, unique=True, validators=[validate_name])
    kind = models.CharField(max_length=16, choices=PbxKind.choices)
    host = models.CharField(max_length=253, validators=[validate_domain], help_text="Host name or IP address.")
    port = models.PositiveIntegerField(
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text="Leave empty for the default: 5038 for Asterisk, 8021 for FreeSWITCH.",
    )
    username = models.CharField(
        max_length=64, blank=True, validators=[validate_name], help_text="AMI user (Asterisk only)."
    )
    secret = models.CharField(
        max_length=128, blank=True, validators=[validate_secret], help_text="AMI secret or ESL password."
    )
    domain = models.CharField(
        max_length=253,
        blank=True,
        validators=[validate_domain],
        help_text="FreeSWITCH domain used in agent ids (1039@domain).",
    )
    # How Mayday creates a mod_callcenter agent the PBX does not have (FreeSWITCH only; existing agents keep theirs).
    agent_contact = models.CharField(
        "agent contact",
        max_length=255,
        default="user/{extension}@{domain}",
        validators=[validate_contact_template],
        help_text="FreeSWITCH only: the dial string of an agent Mayday creates in mod_callcenter, e.g. "
        "[call_timeout=20]user/{extension}@{domain}; {extension} and {domain} are filled in. No spaces.",
    )
    agent_max_no_answer = models.PositiveIntegerField(
        "max no answer",
        default=3,
        validators=[validate_agent_number],
        help_text="FreeSWITCH only: calls a created agent may leave unanswered before mod_callcenter puts it On Break.",
    )
    agent_wrap_up_time = models.PositiveIntegerField(
        "wrap-up time",
        default=10,
        validators=[validate_agent_number],
        help_text="FreeSWITCH only: seconds after a call before a created agent is offered the next one.",
    )
    agent_reject_delay_time = models.PositiveIntegerField(
        "reject delay time",
        default=10,
        validators=[validate_agent_number],
        help_text="FreeSWITCH only: seconds before a created agent who rejected a call is offered another.",
    )
    agent_busy_delay_time = models.PositiveIntegerField(
        "busy delay time",
        default=60,
        validators=[validate_agent_number],
        help_text="FreeSWITCH only: seconds before a created agent whose phone was busy is offered another call.",
    )
    agent_no_answer_delay_time = models.PositiveIntegerField(
        "no answer delay time",
        default=10,
        validators=[validate_agent_number],
        help_text="FreeSWITCH only: seconds before a created agent who did not answer is offered another call.",
    )
    enabled = models.BooleanField(default=True)
    state = models.CharField(
        max_length=16, choices=ConnectionState.choices, default=ConnectionState.UNKNOWN, editable=False
    )
    last_connected_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_reconciled_at = models.DateTimeField(null=True, blank=True, editable=False)
    drift = models.TextField(blank=True, editable=False, help_text="What the last reconciliation found and did.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "PBX server"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if self.port is None:
            self.port = DEFAULT_PORTS[self.kind]
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.port is None and self.kind in DEFAULT_PORTS:
            self.port = DEFAULT_PORTS[self.kind]
        if self.kind == PbxKind.ASTERISK and not self.username:
            raise ValidationError({"username": "An Asterisk PBX needs an AMI user name."})
        if self.kind == PbxKind.FREESWITCH and not self.domain:
            raise ValidationError({"domain": "A FreeSWITCH PBX needs the domain its agents live in."})


# Strategy names as each PBX spells them (Asterisk queues.conf, mod_callcenter).
STRATEGIES = {
    PbxKind.ASTERISK: ["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom"],
    PbxKind.FREESWITCH: [
        "longest-idle-agent",
        "round-robin",
        "top-down",
        "agent-with-least-talk-time",
        "agent-with-fewest-calls",
        "sequentially-by-agent-order",
        "random",
        "ring-all",
        "ring-progressively",
    ],
}
STRATEGY_CHOICES = sorted({(s, s) for names in STRATEGIES.values() for s in names})


class LogoutAction(models.TextChoices):
    REMOVE = "remove", "Leaves the queue"
    PAUSE = "pause", "Stays, paused with reason Logged Out"


class QueueManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().select_related("pbx")  # a queue is always named with its PBX


class Queue(models.Model):
    """A call queue on one PBX; agents join it through memberships. Named with its PBX wherever one is
    chosen ("support (ast)"): the same name may live on two PBXs."""

    name = models.CharField(max_length=64, validators=[validate_name])
    pbx = models.ForeignKey(PbxServer, on_delete=models.PROTECT, related_name="queues", verbose_name="PBX")
    strategy = models.CharField(max_length=32, choices=STRATEGY_CHOICES, default="ringall")
    service_level_seconds = models.PositiveIntegerField(
        default=20, help_text="Calls answered within this many seconds count towards the service level."
    )
    wrap_up_seconds = models.PositiveIntegerField(
        "wrap-up seconds",
        default=0,
        help_text="Time after each call before the agent takes the next (Asterisk wrapuptime); counted in the "
        "average handling time.",
    )
    on_logout = models.CharField(
        "when an agent logs out",
        max_length=8,
        choices=LogoutAction.choices,
        default=LogoutAction.REMOVE,
        help_text="Asterisk: members configured in queues.conf (static) cannot leave and are always paused "
        "with reason Logged Out. FreeSWITCH agents are set to Logged Out either way.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = QueueManager()

    class Meta:
        ordering = ["name", "pbx__name"]
        constraints = [models.UniqueConstraint(fields=["pbx", "name"], name="queue_unique_per_pbx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.pbx.name})"

    def clean(self) -> None:
        if self.pbx_id and self.strategy not in STRATEGIES[self.pbx.kind]:
            allowed = ", ".join(STRATEGIES[self.pbx.kind])
            raise ValidationError({"strategy": f"{self.pbx.get_kind_display()} queues use one of: {allowed}."})


class QueueMembership(models.Model):
    """An agent's place in a queue; a lower penalty is offered calls first.

    The `on_pbx` … `observed_at` fields are what the PBX last said about this
    member (events and snapshots); people never edit them.
    """

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="memberships")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    penalty = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(9)])
    on_pbx = models.BooleanField("on the PBX", default=False, editable=False)
    paused = models.BooleanField(default=False, editable=False)
    pause_reason = models.CharField(max_length=64, blank=True, editable=False)
    device_state = models.CharField(max_length=32, blank=True, editable=False)
    in_call = models.BooleanField(default=False, editable=False)
    calls_taken = models.PositiveIntegerField(default=0, editable=False)
    last_call_at = models.DateTimeField(null=True, blank=True, editable=False)
    observed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["queue__name", "penalty", "agent__extension"]
        constraints = [models.UniqueConstraint(fields=["agent", "queue"], name="membership_unique_pair")]
        verbose_name = "queue membership"

    def __str__(self) -> str:
        return f"{self.agent.extension} in {self.queue.name}"

    def clean(self) -> None:
        if self.agent_id and self.queue_id and self.agent.pbx_id != self.queue.pbx_id:
            raise ValidationError(
                f"Agent {self.agent.extension} is on PBX {self.agent.pbx}, queue {self.queue} is on {self.queue.pbx}: "
                "an agent can only join queues on its own PBX."
            )


# What the PBX says about a member: filled by the listener and reconciliation, read-only to people.
OBSERVED_FIELDS = [
    "on_pbx",
    "paused",
    "pause_reason",
    "device_state",
    "in_call",
    "calls_taken",
    "last_call_at",
    "observed_at",
]


class Did(models.Model):
    """A public number (DID) and the outlet it belongs to."""

    number = models.CharField(max_length=21, unique=True, validators=[validate_did])
    label = models.CharField(max_length=100, help_text="Outlet or campaign name shown to agents, e.g. LaCueva.")
    allow_inbound = models.BooleanField(default=True)
    allow_outbound = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label", "number"]
        verbose_name = "DID"

    def __str__(self) -> str:
        return f"{self.label} ({self.number})"
