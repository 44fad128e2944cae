"""Agents, their status, and softphone client sessions over the API."""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import services
from agents.models import Agent, Availability, ClientSession, ClientType, Presence, StatusSource
from agents.selectors import (
    agent_for_user,
    agent_status,
    agents_visible_to,
    availability_fields,
    may_change_agent,
    sessions_visible_to,
    status_document,
    status_documents,
    with_status,
)
from mayday.api import client_ip
from mayday.schema import ErrorSerializer


class QueueStatusSerializer(serializers.Serializer):
    queue = serializers.CharField()
    on_pbx = serializers.BooleanField()
    paused = serializers.BooleanField()
    reason = serializers.CharField()
    device_state = serializers.CharField()
    in_call = serializers.BooleanField()
    calls_taken = serializers.IntegerField()
    last_call = serializers.DateTimeField(allow_null=True)


class StatusDocumentSerializer(serializers.Serializer):
    """The agent status document (documentation only: the selector builds it)."""

    extension = serializers.CharField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    pbx = serializers.CharField()
    availability = serializers.ChoiceField(Availability.choices)
    pause_reason = serializers.CharField()
    sync_state = serializers.CharField(help_text="pending until the PBX confirms, then applied; or failed")
    sync_error = serializers.CharField()
    since = serializers.DateTimeField(help_text="when the agent entered this availability")
    presence = serializers.ChoiceField(Presence.choices)
    session_active = serializers.BooleanField()
    client_type = serializers.CharField()
    ip = serializers.CharField()
    port = serializers.IntegerField(allow_null=True)
    transport = serializers.CharField()
    rtt_ms = serializers.FloatField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    pbx_down = serializers.BooleanField(help_text="the agent's PBX is not reachable: its queue data may be out of date")
    queues = QueueStatusSerializer(many=True)


class StatusRequestSerializer(serializers.Serializer):
    status = serializers.ChoiceField(Availability.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=64)


class AgentFilter(django_filters.FilterSet):
    queue = django_filters.CharFilter(field_name="memberships__queue__name", distinct=True)
    pbx = django_filters.CharFilter(field_name="pbx__name")
    availability = django_filters.ChoiceFilter(choices=Availability.choices)
    presence = django_filters.ChoiceFilter(choices=Presence.choices, method="by_presence")

    class Meta:
        model = Agent
        fields = ["queue", "pbx", "availability", "presence"]

    def by_presence(self, queryset, name, value):
        return queryset  # presence is resolved per agent when its document is built; the list view applies it


def agent_to_change(*, user, extension: str) -> Agent:
    """The agent this user may change. Permission comes before existence, so an agent learns nothing of
    other extensions: "not yours" and "not there" are the same 403; supervisors get 404 for "not there"."""
    # Loaded whole (status and all), so the answer to a change is built from it without reading it again.
    agent = with_status(Agent.objects.filter(extension=extension)).first()
    if agent is not None and may_change_agent(user=user, agent=agent):
        return agent
    if agent is None and user.has_perm("agents.change_agent"):
        raise NotFound(f"No agent has extension {extension!r}.")
    raise PermissionDenied("You may change only your own status.")


def request_status(*, request, agent: Agent, availability: str, reason: str | None, source: str) -> Response:
    """The one way the API changes a status (the caller found the agent with `agent_to_change`)."""
    try:
        changed = services.agent_request_status(
            agent=agent, availability=availability, reason=reason, source=source, actor=request.user
        )
    except DjangoValidationError as exc:
        raise ApiValidationError({"detail": exc.messages[0]}) from exc
    # What the request changed, over the document of the agent as loaded: nothing is read after the commit,
    # while the PBX command it queued runs.
    doc = {**status_document(agent, timezone.now()), **availability_fields(changed)}
    return Response(doc, status=status.HTTP_202_ACCEPTED)


class AgentViewSet(viewsets.ReadOnlyModelViewSet):
    """Agents and their live status: supervisors see everyone, an agent sees only themselves."""

    serializer_class = StatusDocumentSerializer
    lookup_field = "extension"
    lookup_value_regex = "[A-Za-z0-9_.-]+"
    filterset_class = AgentFilter

    def get_queryset(self):
        return agents_visible_to(user=self.request.user)

    def list(self, request, *args, **kwargs):
        docs = status_documents(agents=self.filter_queryset(self.get_queryset()))
        presence = request.query_params.get("presence")
        if presence:
            docs = [doc for doc in docs if doc["presence"] == presence]
        return self.get_paginated_response(self.paginate_queryset(docs))

    def retrieve(self, request, *args, **kwargs):
        return Response(agent_status(agent_id=self.get_object().pk))

    @extend_schema(methods=["GET"], responses=StatusDocumentSerializer)
    @extend_schema(methods=["POST"], request=StatusRequestSerializer, responses={202: StatusDocumentSerializer})
    @action(detail=True, methods=["get", "post"])
    def status(self, request, extension: str):
        """GET: the status document. POST `{"status": "on_break", "reason": "Lunch"}`: ask for a change (202)."""
        if request.method == "GET":
            return self.retrieve(request)
        agent = agent_to_change(user=request.user, extension=extension)
        body = StatusRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return request_status(
            request=request,
            agent=agent,
            availability=data["status"],
            reason=data.get("reason") or None,
            source=StatusSource.API,
        )


LEGACY_STATUSES = {
    "Available": Availability.AVAILABLE,
    "On Break": Availability.ON_BREAK,
    "Logged Out": Availability.LOGGED_OUT,
}


class LegacyStatusSerializer(serializers.Serializer):
    extension = serializers.CharField(min_length=1, max_length=64)
    hostname = serializers.CharField(max_length=253, required=False, allow_blank=True)
    status = serializers.ChoiceField(list(LEGACY_STATUSES))


class LegacySetAgentStatus(APIView):
    """`POST /Set-Agent-Status` with the old body `{"extension", "hostname", "status": "On Break"}`.

    Same authentication and rules as `POST /api/agents/{extension}/status/`;
    `hostname`, when given, must be the agent's PBX (its host or name); a
    break takes the default pause reason.
    """

    @extend_schema(
        request=LegacyStatusSerializer,
        responses={202: StatusDocumentSerializer, 404: OpenApiResponse(ErrorSerializer, "No such agent.")},
    )
    def post(self, request):
        body = LegacyStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        agent = agent_to_change(user=request.user, extension=data["extension"])
        hostname = data.get("hostname")
        if hostname and hostname not in (agent.pbx.host, agent.pbx.name):
            raise ApiValidationError({"hostname": f"Agent {agent.extension} is not on {hostname!r}."})
        return request_status(
            request=request,
            agent=agent,
            availability=LEGACY_STATUSES[data["status"]],
            reason=None,
            source=StatusSource.API,
        )


class SessionSerializer(serializers.ModelSerializer):
    extension = serializers.CharField(source="agent.extension", read_only=True)
    heartbeat_seconds = serializers.SerializerMethodField()

    class Meta:
        model = ClientSession
        fields = [
            "token",
            "extension",
            "client_type",
            "fingerprint",
            "ip",
            "created_at",
            "last_heartbeat_at",
            "expires_at",
            "heartbeat_seconds",
        ]
        read_only_fields = ["token", "ip", "created_at", "last_heartbeat_at", "expires_at"]
        extra_kwargs = {"client_type": {"choices": ClientType.choices}}

    def get_heartbeat_seconds(self, session) -> int:
        return max(settings.MAYDAY_SESSION_TTL_SECONDS // 3, 1)


class SessionViewSet(viewsets.GenericViewSet):
    """Softphone client sessions: open one, send a heartbeat within `heartbeat_seconds`, close it.

    The token in the URL names the session; the caller must still be signed
    in (token or session auth) as its agent. A session that missed its
    heartbeats is expired: its heartbeat gets 410 and the client opens a new one.
    """

    serializer_class = SessionSerializer
    lookup_field = "token"
    lookup_value_regex = "[A-Za-z0-9_-]+"
    pagination_class = None

    def get_queryset(self):
        return sessions_visible_to(user=self.request.user)

    def list(self, request):
        """Active sessions: the caller's own, or everyone's for supervisors."""
        sessions = sessions_visible_to(user=request.user, active_only=True)
        return Response(self.get_serializer(sessions, many=True).data)

    def create(self, request):
        agent = agent_for_user(user=request.user)
        if agent is None:
            raise PermissionDenied("Only agents open client sessions.")
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = services.session_open(
            agent=agent,
            client_type=body.validated_data["client_type"],
            fingerprint=body.validated_data.get("fingerprint", ""),
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(self.get_serializer(session).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={
            200: SessionSerializer,
            410: OpenApiResponse(ErrorSerializer, "The session expired or was closed: open a new one."),
        },
    )
    @action(detail=True, methods=["post"])
    def heartbeat(self, request, token: str):
        session = self.get_object()
        if session.agent.user_id != request.user.pk:
            raise PermissionDenied("Only the session's own agent sends its heartbeats.")
        try:
            services.session_heartbeat(session=session)
        except services.SessionClosed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_410_GONE)
        return Response(self.get_serializer(session).data)

    def destroy(self, request, token: str):
        session = self.get_object()
        if not may_change_agent(user=request.user, agent=session.agent):
            raise PermissionDenied("You may close only your own sessions.")
        services.session_close(session=session)
        return Response(status=status.HTTP_204_NO_CONTENT)
