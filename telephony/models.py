"""The phone system as Mayday knows it: PBX servers, queues, memberships, DIDs, trunks, routes and calls."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from telephony.pbx import routing
from telephony.phone import dialable
from telephony.validators import (
    validate_agent_number,
    validate_contact_template,
    validate_did,
    validate_domain,
    validate_extension,
    validate_leading_digits,
    validate_name,
    validate_prefix,
    validate_prepend,
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
    """A public number (DID) and the outlet it belongs to. Numbers are kept as dialled from
    MAYDAY_PHONE_REGION (telephony.phone), whatever form they were typed in."""

    number = models.CharField(
        max_length=21,
        unique=True,
        validators=[validate_did],
        help_text="As dialled in the call center's region, or with + and the country code.",
    )
    label = models.CharField(max_length=100, help_text="Outlet or campaign name shown to agents, e.g. LaCueva.")
    allow_inbound = models.BooleanField(default=True, help_text="Calls to this number may be routed in.")
    allow_outbound = models.BooleanField(default=True, help_text="Agents' calls may present this number.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label", "number"]
        verbose_name = "DID"

    def __str__(self) -> str:
        return f"{self.label} ({self.number})"

    def clean(self) -> None:
        try:
            validate_did(self.number)  # the field's own check reports a malformed number once
        except ValidationError:
            return
        try:
            self.number = dialable(self.number, "DID")
        except ValidationError as exc:
            raise ValidationError({"number": exc.messages}) from exc
        if self.pk is None:
            return
        if not self.allow_outbound:
            users = [
                *(f"agent {a}" for a in self.agents.values_list("extension", flat=True)),
                *(f"prefix {p} on {pbx}" for p, pbx in self.prefix_routes.values_list("prefix", "pbx__name")),
                *(f"route {r}" for r in self.fixed_routes.all()),
            ]
            if users:
                more = f" and {len(users) - 5} more" if len(users) > 5 else ""
                used = ", ".join(users[:5]) + more
                raise ValidationError({"allow_outbound": f"Calls present this number ({used}): choose another first."})
        if not self.allow_inbound and InboundRoute.objects.filter(did=self).exists():
            raise ValidationError(
                {"allow_inbound": "Calls to this number are routed in: remove its inbound route first."}
            )


def outbound_did(did: Did | None, field: str = "did") -> None:
    """A DID presented to the people called must be one that allows outbound use."""
    if did is not None and not did.allow_outbound:
        raise ValidationError({field: f"{did} does not allow outbound use, so calls cannot present it."})


class Trunk(models.Model):
    """A way out to the public network: a PJSIP endpoint (Asterisk) or a Sofia gateway (FreeSWITCH)."""

    name = models.CharField(
        max_length=64,
        validators=[validate_name],
        help_text="The PBX's own name for it: the PJSIP endpoint (Asterisk) or the gateway (FreeSWITCH).",
    )
    pbx = models.ForeignKey(PbxServer, on_delete=models.PROTECT, related_name="trunks", verbose_name="PBX")
    enabled = models.BooleanField(default=True, help_text="Routes through a disabled trunk are taken off the PBX.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pbx__name", "name"]
        constraints = [models.UniqueConstraint(fields=["pbx", "name"], name="trunk_unique_per_pbx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.pbx.name})"


class PrefixRoute(models.Model):
    """Digits an agent dials before a number to present a chosen DID (removed before the number is dialled)."""

    pbx = models.ForeignKey(PbxServer, on_delete=models.CASCADE, related_name="prefix_routes", verbose_name="PBX")
    prefix = models.CharField(max_length=4, validators=[validate_prefix], help_text="1-4 digits, e.g. 45.")
    did = models.ForeignKey(
        Did,
        on_delete=models.PROTECT,
        related_name="prefix_routes",
        limit_choices_to={"allow_outbound": True},
        verbose_name="DID presented",
    )

    class Meta:
        ordering = ["pbx__name", "prefix"]
        constraints = [models.UniqueConstraint(fields=["pbx", "prefix"], name="prefix_unique_per_pbx")]
        verbose_name = "prefix route"

    def __str__(self) -> str:
        return f"{self.prefix} → {self.did.number}"

    def clean(self) -> None:
        outbound_did(self.did if self.did_id else None)
        if not (self.pbx_id and self.prefix):
            return
        for other in PrefixRoute.objects.filter(pbx_id=self.pbx_id).exclude(pk=self.pk):
            if other.prefix == self.prefix:
                raise ValidationError({"prefix": f"Prefix {self.prefix} is already used on {self.pbx}."})
            if other.prefix.startswith(self.prefix) or self.prefix.startswith(other.prefix):
                raise ValidationError(
                    {"prefix": f"{self.prefix} overlaps prefix {other.prefix}: no prefix may begin another."}
                )
        route = overlapping_route(self.pbx_id, self.prefix)
        if route is not None:
            why = f"numbers of route {route} start with {route.match}, and would lose their first digits to it"
            raise ValidationError({"prefix": f"{self.prefix} cannot be a prefix: {why}."})


def overlapping_route(pbx_id: int, prefix: str) -> OutboundRoute | None:
    """An outbound route of this PBX whose numbers a prefix would swallow (one starts the other)."""
    for route in OutboundRoute.objects.filter(pbx_id=pbx_id).exclude(match=""):
        if route.match.startswith(prefix) or prefix.startswith(route.match):
            return route
    return None


class OutboundRoute(models.Model):
    """Which trunk takes the numbers that start with some digits, how they are rewritten, and the caller ID.

    The route with the longest matching leading digits takes a number; one without leading digits takes
    every number no other route matches.
    """

    pbx = models.ForeignKey(PbxServer, on_delete=models.CASCADE, related_name="outbound_routes", verbose_name="PBX")
    name = models.CharField(max_length=100, help_text="What the route is for, e.g. Uganda mobiles.")
    match = models.CharField(
        "leading digits",
        max_length=routing.ROUTE_DIGITS_MAX,
        blank=True,
        validators=[validate_leading_digits],
        help_text="The start of the numbers it takes, e.g. 07. Empty: every number no other route takes.",
    )
    min_length = models.PositiveSmallIntegerField(
        "shortest number", default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    max_length = models.PositiveSmallIntegerField(
        "longest number", default=20, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    strip = models.PositiveSmallIntegerField(
        "digits to strip", default=0, validators=[MaxValueValidator(10)], help_text="Removed from the start."
    )
    prepend = models.CharField(
        "digits to prepend",
        max_length=10,
        blank=True,
        validators=[validate_prepend],
        help_text="Put in front after stripping, e.g. 256 for E.164 without the +.",
    )
    trunk = models.ForeignKey(Trunk, on_delete=models.PROTECT, related_name="routes")
    did = models.ForeignKey(
        Did,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fixed_routes",
        limit_choices_to={"allow_outbound": True},
        verbose_name="caller ID",
        help_text="Always present this DID (unless the agent chose one with a prefix). Empty: the agent's default.",
    )

    class Meta:
        ordering = ["pbx__name", "match"]
        constraints = [models.UniqueConstraint(fields=["pbx", "match"], name="outbound_route_unique_match")]
        verbose_name = "outbound route"

    def __str__(self) -> str:
        return f"{self.name} ({self.match or 'any'})"

    def clean(self) -> None:
        if self.pbx_id:
            taken = OutboundRoute.objects.filter(pbx_id=self.pbx_id, match=self.match).exclude(pk=self.pk).first()
            if taken is not None:
                raise ValidationError({"match": f"Route {taken} of {self.pbx} already takes these numbers."})
            for other in PrefixRoute.objects.filter(pbx_id=self.pbx_id) if self.match else ():
                if other.prefix.startswith(self.match) or self.match.startswith(other.prefix):
                    why = f"agents dial prefix {other.prefix} before numbers, and would lose their first digits to it"
                    raise ValidationError({"match": f"Numbers starting {self.match} cannot be routed: {why}."})
        if self.pbx_id and self.trunk_id and self.trunk.pbx_id != self.pbx_id:
            raise ValidationError({"trunk": f"Trunk {self.trunk} is on another PBX than this route ({self.pbx})."})
        outbound_did(self.did if self.did_id else None)
        if self.min_length and self.max_length and self.min_length > self.max_length:
            raise ValidationError({"min_length": "The shortest number cannot be longer than the longest."})
        if self.max_length and len(self.match) > self.max_length:
            raise ValidationError({"match": "The leading digits are longer than the longest number."})
        if self.min_length and self.strip > self.min_length:
            raise ValidationError({"strip": "Stripping more digits than the shortest number has leaves nothing."})

    def entry(self) -> routing.Route:
        did = self.did.number if self.did_id else ""
        return routing.Route(self.trunk.name, self.strip, self.prepend, did, self.min_length, self.max_length)


class InboundTarget(models.TextChoices):
    QUEUE = "queue", "A queue"
    AGENT = "agent", "An agent's phone"
    EXTENSION = "extension", "An extension of the PBX's dialplan"


class InboundRoute(models.Model):
    """Where a call to a DID goes: a queue, an agent, or an extension (one route per DID)."""

    did = models.OneToOneField(
        Did,
        on_delete=models.CASCADE,
        related_name="inbound_route",
        limit_choices_to={"allow_inbound": True},
        verbose_name="DID",
    )
    pbx = models.ForeignKey(PbxServer, on_delete=models.CASCADE, related_name="inbound_routes", verbose_name="PBX")
    target = models.CharField("goes to", max_length=16, choices=InboundTarget.choices, default=InboundTarget.QUEUE)
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="inbound_routes")
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.PROTECT, related_name="inbound_routes"
    )
    extension = models.CharField(max_length=64, blank=True, validators=[validate_extension])

    class Meta:
        ordering = ["did__number"]
        verbose_name = "inbound route"

    def __str__(self) -> str:
        return f"{self.did.number if self.did_id else '?'} → {self.describe()}"

    def describe(self) -> str:
        """Where calls go, in words: `queue support (ast)`, `agent Amina Wanjiru (1005)`, `extension 700`."""
        target = {"queue": self.queue, "agent": self.agent}.get(self.target) or self.extension
        return f"{self.target} {target}"

    def clean(self) -> None:
        if self.did_id and not self.did.allow_inbound:
            raise ValidationError({"did": f"{self.did} does not allow inbound use."})
        chosen = {"queue": self.queue_id, "agent": self.agent_id, "extension": self.extension}
        if not chosen.get(self.target):
            raise ValidationError({self.target: f"Choose the {self.target} calls to this DID go to."})
        for field, value in chosen.items():
            if field != self.target and value:
                raise ValidationError({field: f"Calls go to a {self.target}: leave the {field} empty."})
        owner = self.queue if self.target == InboundTarget.QUEUE else self.agent if self.target == "agent" else None
        if owner is not None and self.pbx_id and owner.pbx_id != self.pbx_id:
            raise ValidationError({self.target: f"{owner} is on PBX {owner.pbx}, not on {self.pbx}."})

    def value(self) -> str:
        if self.target == InboundTarget.QUEUE:
            return f"queue|{self.queue.name if self.queue_id else ''}"
        if self.target == InboundTarget.AGENT:
            return f"agent|{self.agent.extension if self.agent_id else ''}"
        return f"extension|{self.extension}"


class CallState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    RINGING = "ringing", "Ringing the agent"
    ANSWERED = "answered", "Agent answered, number dialled"
    FAILED = "failed", "Failed"


class CallRequest(models.Model):
    """A click-to-call: the agent's phone rings first, then the number is dialled through the agent's
    outbound routing. One per idempotency key and requester: asking twice gives the same call."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pbx = models.ForeignKey(PbxServer, on_delete=models.CASCADE, related_name="call_requests", verbose_name="PBX")
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="call_requests")
    extension = models.CharField(max_length=64, validators=[validate_extension])
    number = models.CharField(max_length=24)
    did = models.ForeignKey(Did, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="DID")
    state = models.CharField(max_length=16, choices=CallState.choices, default=CallState.REQUESTED)
    error = models.TextField(blank=True)
    pbx_call_id = models.CharField("PBX call id", max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=64)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["requested_by", "idempotency_key"], name="call_request_once_per_key")
        ]
        verbose_name = "click-to-call"
        verbose_name_plural = "click-to-calls"

    def __str__(self) -> str:
        return f"{self.extension} → {self.number} ({self.state})"
