"""What happened to calls, as the PBX told it: one row per caller per queue, its ring attempts, and CDRs.

Rows are keyed by the PBX's own ids, so a replayed event, a reconnect or a queue_log import never makes a
second row; they fill in or correct the one that is there. Times are stored in UTC.
"""

from __future__ import annotations

from django.db import models


class Outcome(models.TextChoices):
    WAITING = "waiting", "Waiting"  # in the queue now (or the PBX never told us how it ended)
    ANSWERED = "answered", "Answered"
    ABANDONED = "abandoned", "Abandoned"  # the caller hung up while waiting
    TIMED_OUT = "timed_out", "Timed out"  # the queue's time limit sent the caller on
    EXITED = "exited", "Exited"  # a key pressed, the queue empty or full, taken out by the dialplan


class Source(models.TextChoices):
    EVENTS = "events", "PBX events"
    QUEUE_LOG = "queue_log", "queue_log"


class QueueCall(models.Model):
    """One caller's stay in one queue."""

    pbx = models.ForeignKey("telephony.PbxServer", on_delete=models.PROTECT, related_name="+", verbose_name="PBX")
    queue = models.ForeignKey(
        "telephony.Queue",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        help_text="Empty when the PBX queue is not configured in Mayday; its name is kept.",
    )
    queue_name = models.CharField(max_length=64)
    call_id = models.CharField(
        "PBX call id", max_length=64, help_text="Asterisk's Uniqueid, FreeSWITCH's member session UUID."
    )
    caller_number = models.CharField(max_length=80, blank=True)
    caller_name = models.CharField(max_length=80, blank=True)
    entered_at = models.DateTimeField()
    position = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Place in the queue on entering.")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.WAITING)
    exit_reason = models.CharField(
        max_length=32, blank=True, help_text="The PBX's word: EXITWITHKEY, EXITEMPTY, TIMEOUT, BREAK_OUT…"
    )
    wait_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Until answered or gone.")
    answered_at = models.DateTimeField(null=True, blank=True)
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="queue_calls"
    )
    agent_extension = models.CharField(max_length=64, blank=True)
    ring_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="How long the answering phone rang.")
    talk_seconds = models.PositiveIntegerField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    hangup_by = models.CharField(max_length=16, blank=True, help_text="agent, caller or transfer (Asterisk).")
    ring_no_answers = models.PositiveSmallIntegerField(default=0)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.EVENTS)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-entered_at"]
        constraints = [models.UniqueConstraint(fields=["pbx", "queue_name", "call_id"], name="queue_call_once")]
        indexes = [
            # The summaries read only these columns: one queue over a period, and every queue over a period.
            models.Index(
                fields=["queue", "entered_at", "outcome", "wait_seconds", "talk_seconds"], name="queue_call_by_queue"
            ),
            models.Index(
                fields=["entered_at", "queue", "outcome", "wait_seconds", "talk_seconds"], name="queue_call_by_time"
            ),
            models.Index(fields=["agent", "entered_at"], name="queue_call_by_agent"),
            models.Index(fields=["outcome", "entered_at"], name="queue_call_waiting"),
        ]

    def __str__(self) -> str:
        return f"{self.queue_name} {self.call_id} ({self.get_outcome_display()})"


class AttemptResult(models.TextChoices):
    RINGING = "ringing", "Offered"  # rang; another phone answered, or the caller went first
    NO_ANSWER = "no_answer", "Rang, not answered"
    ANSWERED = "answered", "Answered"


class CallAttempt(models.Model):
    """One offer of a queue call to one agent's phone."""

    call = models.ForeignKey(QueueCall, on_delete=models.CASCADE, related_name="attempts")
    agent = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    agent_extension = models.CharField(max_length=64)
    leg_id = models.CharField(max_length=64, blank=True, help_text="The ringing channel's id, when the PBX gives one.")
    offered_at = models.DateTimeField()
    ring_ms = models.PositiveIntegerField(null=True, blank=True)
    result = models.CharField(max_length=12, choices=AttemptResult.choices, default=AttemptResult.RINGING)

    class Meta:
        ordering = ["offered_at", "pk"]
        indexes = [models.Index(fields=["agent", "offered_at"], name="attempt_by_agent")]

    def __str__(self) -> str:
        return f"{self.agent_extension} {self.get_result_display()}"


class Disposition(models.TextChoices):
    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO ANSWER"
    BUSY = "BUSY"
    FAILED = "FAILED"
    CONGESTION = "CONGESTION"


class Cdr(models.Model):
    """A call detail record, one per channel as the PBX writes them. `internal` marks the legs inside the PBX
    (Local/loopback halves, agent legs, the extra legs of a ringall): those are never counted as calls."""

    pbx = models.ForeignKey("telephony.PbxServer", on_delete=models.PROTECT, related_name="+", verbose_name="PBX")
    call_id = models.CharField("PBX call id", max_length=64)
    source = models.CharField(max_length=80, blank=True)
    destination = models.CharField(max_length=80, blank=True)
    destination_context = models.CharField(max_length=80, blank=True)
    caller_id = models.CharField("caller ID", max_length=160, blank=True)
    channel = models.CharField(max_length=128, blank=True)
    destination_channel = models.CharField(max_length=128, blank=True)
    last_application = models.CharField(max_length=80, blank=True)
    start = models.DateTimeField()
    answer = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    duration = models.PositiveIntegerField(default=0)
    billable_seconds = models.PositiveIntegerField(default=0)
    disposition = models.CharField(max_length=12, choices=Disposition.choices)
    hangup_cause = models.CharField(max_length=40, blank=True)
    account_code = models.CharField(max_length=80, blank=True)
    internal = models.BooleanField(default=False)

    class Meta:
        ordering = ["-start"]
        verbose_name = "CDR"
        constraints = [
            models.UniqueConstraint(
                fields=["pbx", "call_id", "channel", "destination_channel", "start"], name="cdr_once"
            )
        ]
        indexes = [models.Index(fields=["start", "internal", "disposition"], name="cdr_by_time")]

    def __str__(self) -> str:
        return f"{self.call_id} {self.source} → {self.destination} {self.disposition}"
