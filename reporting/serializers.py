"""The reports API's query parameters and answers."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from agents.models import Agent
from reporting.models import CallAttempt, Outcome, QueueCall
from reporting.periods import PERIODS
from telephony.models import Queue


def id_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        help_text=f"{help_text} (repeat for several).",
    )


def known(model, pks: list[int]) -> list[int]:
    """The ids, when each names a row: else a validation error naming (the first few of) those that do not."""
    unknown = sorted(set(pks) - set(model.objects.filter(pk__in=pks).values_list("pk", flat=True)))
    if unknown:
        name = model._meta.verbose_name
        raise serializers.ValidationError(f"No {name} has id {', '.join(map(str, unknown[:10]))}.")
    return pks


class PeriodQuery(serializers.Serializer):
    """The days reported on, in local time: today unless said otherwise."""

    period = serializers.ChoiceField(
        PERIODS,
        required=False,
        allow_blank=True,
        help_text="Today unless said otherwise; from and to alone mean custom.",
    )

    def get_fields(self) -> dict:
        days = {
            "from": serializers.DateField(required=False, help_text="First day of a custom period (YYYY-MM-DD)."),
            "to": serializers.DateField(required=False, help_text="Last day of a custom period, included."),
        }
        return super().get_fields() | days


class QueueReportQuery(PeriodQuery):
    queue = id_list("Queue ids")

    def validate_queue(self, pks: list[int]) -> list[int]:
        return known(Queue, pks)


class AgentReportQuery(PeriodQuery):
    agent = id_list("Agent ids")


class CallQuery(QueueReportQuery, AgentReportQuery):
    outcome = serializers.ChoiceField(Outcome.choices, required=False, allow_blank=True)

    def validate_agent(self, pks: list[int]) -> list[int]:
        return known(Agent, pks)


class PeriodSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="today, yesterday, week, month or custom.")
    start = serializers.DateTimeField(help_text="Local midnight starting the first day.")
    end = serializers.DateTimeField(help_text="Local midnight after the last day (not included).")
    time_zone = serializers.SerializerMethodField()

    def get_fields(self) -> dict:
        fields = super().get_fields()
        days = {"from": serializers.DateField(source="first"), "to": serializers.DateField(source="last")}
        return {"name": fields.pop("name"), **days, **fields}

    def get_time_zone(self, period) -> str:
        return timezone.get_current_timezone_name()


class FiguresSerializer(serializers.Serializer):
    """Counts over the calls that entered in the period; rates in percent and means in seconds (null where
    nothing divides)."""

    offered = serializers.IntegerField()
    answered = serializers.IntegerField()
    abandoned = serializers.IntegerField(help_text="Caller hung up while waiting (short abandons apart).")
    short_abandoned = serializers.IntegerField(help_text="Abandoned sooner than MAYDAY_SHORT_ABANDON_SECONDS.")
    timed_out = serializers.IntegerField()
    exited = serializers.IntegerField()
    waiting = serializers.IntegerField()
    answered_within = serializers.IntegerField(help_text="Answered within the queue's service level seconds.")
    abandoned_within = serializers.IntegerField()
    wait_answered = serializers.IntegerField(help_text="Seconds waited by the answered calls, together.")
    longest_wait = serializers.IntegerField(allow_null=True)
    talk = serializers.IntegerField(help_text="Seconds of talk, together.")
    talked = serializers.IntegerField(help_text="Answered calls whose talk time is known.")
    abandon_rate = serializers.FloatField(allow_null=True)
    service_level = serializers.FloatField(allow_null=True)
    service_level_all = serializers.FloatField(allow_null=True)
    asa = serializers.FloatField(allow_null=True, help_text="Mean wait of answered calls.")
    average_talk = serializers.FloatField(allow_null=True)
    aht = serializers.FloatField(allow_null=True, help_text="Mean talk plus the queue's wrap-up.")

    def to_representation(self, row) -> dict:
        data = super().to_representation(row)
        return data | {"wait_answered": data["wait_answered"] or 0, "talk": data["talk"] or 0}


class QueueFiguresSerializer(FiguresSerializer):
    """One queue; calls on queues Mayday does not know make one row with a null id."""

    def get_fields(self) -> dict:
        queue = {
            "id": serializers.IntegerField(source="queue.pk", allow_null=True),
            "name": serializers.CharField(source="queue.name", allow_null=True),
            "pbx": serializers.CharField(source="queue.pbx.name", allow_null=True),
        }
        return queue | super().get_fields()


class QueueReportSerializer(serializers.Serializer):
    period = PeriodSerializer()
    queues = QueueFiguresSerializer(many=True)
    total = FiguresSerializer(help_text="All the queues reported, from their summed counts.")


class AgentFiguresSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="agent.pk")
    extension = serializers.CharField(source="agent.extension")
    name = serializers.CharField(source="agent.display_name")
    answered = serializers.IntegerField()
    talk = serializers.IntegerField(help_text="Seconds of talk, together.")
    average_talk = serializers.FloatField(allow_null=True)
    ring_no_answers = serializers.IntegerField(help_text="Rings the agent let go unanswered.")
    available_seconds = serializers.IntegerField()
    on_break_seconds = serializers.IntegerField()
    logged_out_seconds = serializers.IntegerField()


class AgentReportSerializer(serializers.Serializer):
    period = PeriodSerializer()
    agents = AgentFiguresSerializer(many=True)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallAttempt
        fields = ["agent_extension", "offered_at", "ring_ms", "result"]
        read_only_fields = fields


class CallSerializer(serializers.ModelSerializer):
    pbx = serializers.CharField(source="pbx.name", read_only=True)
    queue = serializers.CharField(source="queue_name", read_only=True)
    queue_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Null when the queue is not configured in Mayday."
    )
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    agent_name = serializers.CharField(source="agent.display_name", read_only=True, allow_null=True)
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = QueueCall
        fields = [
            "id",
            "pbx",
            "queue",
            "queue_id",
            "call_id",
            "caller_number",
            "caller_name",
            "entered_at",
            "position",
            "outcome",
            "exit_reason",
            "wait_seconds",
            "answered_at",
            "agent_id",
            "agent_extension",
            "agent_name",
            "ring_seconds",
            "talk_seconds",
            "ended_at",
            "hangup_by",
            "ring_no_answers",
            "attempts",
        ]
        read_only_fields = fields
