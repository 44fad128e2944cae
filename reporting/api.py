"""The reports over the API: figures per queue and per agent, and the queue calls of a period, as JSON or CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import cached_property
from itertools import islice

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from agents.models import Agent
from agents.selectors import agent_for_user
from mayday.schema import AutoSchema
from reporting import selectors
from reporting.models import QueueCall
from reporting.periods import Period, PeriodError, parse_period
from reporting.renderers import CSVRenderer, csv_lines, table
from reporting.serializers import (
    AgentFiguresSerializer,
    AgentReportQuery,
    AgentReportSerializer,
    CallQuery,
    CallSerializer,
    QueueFiguresSerializer,
    QueueReportQuery,
    QueueReportSerializer,
    known,
)

REPORTS = "reporting.view_queuecall"
FORMAT = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="`csv` for a spreadsheet (as does `Accept: text/csv`)."
)


class ReadsReports(permissions.BasePermission):
    message = "Only supervisors read this report."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm(REPORTS)


def answers(json, csv: str) -> dict:
    """The operation's 200 answers: JSON, or a CSV table."""
    description = f"The report; as CSV (`format=csv`), {csv}"
    return {
        (200, "application/json"): OpenApiResponse(json, description),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description),
    }


class ReportSchema(AutoSchema):
    """Errors are answered as JSON, even to a request for CSV."""

    def map_renderers(self, attribute: str) -> list:
        return [media_type for media_type in super().map_renderers(attribute) if media_type != CSVRenderer.media_type]


class Report:
    """What the three reports share: the period and filters read from the query, JSON or CSV, errors as JSON."""

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]
    schema = ReportSchema()
    query_class: type
    name: str

    def perform_content_negotiation(self, request, force=False):
        # An unknown `format` falls back to JSON here; `asked` answers it with a 400 once the caller is known.
        return super().perform_content_negotiation(request, force=True)

    @cached_property
    def asked(self) -> tuple[Period, dict]:
        """The period and the filters of the request's query."""
        request = self.request
        wanted = request.query_params.get("format")
        if wanted and wanted not in {renderer.format for renderer in self.get_renderers()}:
            raise ValidationError({"format": "format must be json or csv."})
        query = self.query_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            period = parse_period(request.query_params)
        except PeriodError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return period, query.validated_data

    @property
    def as_csv(self) -> bool:
        return isinstance(self.request.accepted_renderer, CSVRenderer)

    def attachment(self, period: Period) -> dict:
        days = str(period.first) if period.first == period.last else f"{period.first}_{period.last}"
        return {"Content-Disposition": f'attachment; filename="mayday-{self.name}-{days}.csv"'}

    def handle_exception(self, exc):
        if isinstance(getattr(self.request, "accepted_renderer", None), CSVRenderer):
            self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return super().handle_exception(exc)


class QueueReport(Report, APIView):
    """Figures per queue over a period, and for all of them together (supervisors)."""

    permission_classes = [ReadsReports]
    query_class = QueueReportQuery
    name = "queues"

    @extend_schema(
        parameters=[QueueReportQuery, FORMAT],
        responses=answers(QueueReportSerializer, 'a header, a row per queue, then "All queues".'),
    )
    def get(self, request):
        period, filters = self.asked
        rows = selectors.queue_figures(start=period.start, end=period.end, queue_ids=filters.get("queue"))
        data = QueueReportSerializer({"period": period, "queues": rows, "total": selectors.total(rows)}).data
        if self.as_csv:
            items = [*data["queues"], {"name": "All queues", **data["total"]}]
            return Response(list(table(list(QueueFiguresSerializer().fields), items)), headers=self.attachment(period))
        return Response(data)


def agents_reported(*, user, ids: list[int] | None) -> QuerySet[Agent]:
    """Supervisors report on every agent or those named (an unknown id is invalid); an agent on themselves
    only: naming anyone else, there or not, is refused alike."""
    if user.has_perm(REPORTS):
        if ids is None:
            return Agent.objects.all()
        try:
            return Agent.objects.filter(pk__in=known(Agent, ids))
        except ValidationError as exc:
            raise ValidationError({"agent": exc.detail}) from exc
    own = agent_for_user(user=user)
    if own is None:
        raise PermissionDenied("Only supervisors and agents read this report.")
    if ids is not None and set(ids) != {own.pk}:
        raise PermissionDenied("An agent reads only their own figures.")
    return Agent.objects.filter(pk=own.pk)


class AgentReport(Report, APIView):
    """Figures per agent over a period: supervisors see every agent, an agent their own row."""

    query_class = AgentReportQuery
    name = "agents"

    @extend_schema(
        parameters=[AgentReportQuery, FORMAT],
        responses=answers(AgentReportSerializer, "a header and a row per agent."),
    )
    def get(self, request):
        period, filters = self.asked
        agents = agents_reported(user=request.user, ids=filters.get("agent"))
        rows = selectors.agent_figures(start=period.start, end=period.end, agents=agents)
        data = AgentReportSerializer({"period": period, "agents": rows}).data
        if self.as_csv:
            header = list(AgentFiguresSerializer().fields)
            return Response(list(table(header, data["agents"])), headers=self.attachment(period))
        return Response(data)


def attempt_text(attempt: dict) -> str:
    ring = "" if attempt["ring_ms"] is None else f" {attempt['ring_ms']}ms"
    return f"{attempt['agent_extension']} {attempt['result']}{ring}"


def call_rows(calls: QuerySet) -> Iterator[dict]:
    """Each call as a flat row, its ring attempts in one cell ("1005 no_answer 15000ms; 1006 answered 3000ms")."""
    serializer = CallSerializer()
    for call in calls.iterator(chunk_size=2000):
        row = serializer.to_representation(call)
        yield row | {"attempts": "; ".join(map(attempt_text, row["attempts"]))}


async def in_batches(lines: Iterator[str], size: int = 1000) -> AsyncIterator[str]:
    """The lines for an ASGI server, which buffers a synchronous iterator whole: read a batch at a time in the
    thread that holds the database connection."""
    batch = sync_to_async(lambda: "".join(islice(lines, size)), thread_sensitive=True)
    while text := await batch():
        yield text


class CallReport(Report, generics.ListAPIView):
    """The queue calls that entered in a period, newest first, with their ring attempts (supervisors). As CSV,
    every call of the period in one file."""

    permission_classes = [ReadsReports]
    serializer_class = CallSerializer
    filter_backends = []
    query_class = CallQuery
    name = "calls"

    @extend_schema(
        parameters=[CallQuery, FORMAT],
        responses=answers(CallSerializer, "a header and a row per call of the period (not paged)."),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[QueueCall]:
        period, filters = self.asked
        return selectors.calls(
            start=period.start,
            end=period.end,
            queue_ids=filters.get("queue"),
            agent_ids=filters.get("agent"),
            outcome=filters.get("outcome"),
        ).prefetch_related("attempts")

    def list(self, request, *args, **kwargs):
        if not self.as_csv:
            return super().list(request, *args, **kwargs)
        lines = csv_lines(table(list(CallSerializer().fields), call_rows(self.get_queryset())))
        if isinstance(request._request, ASGIRequest):
            lines = in_batches(lines)
        headers = self.attachment(self.asked[0])
        return StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8", headers=headers)
