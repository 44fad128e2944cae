"""Queues, DIDs, trunks, routes and click-to-calls over the API."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from agents.models import Agent
from mayday.api import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_RULE,
    ModelCleanSerializer,
    ModelPermission,
    PhoneNumberField,
    ProtectedDestroy,
    ReadOrModelPermission,
)
from telephony import services
from telephony.models import CallRequest, Did, InboundRoute, OutboundRoute, PbxServer, PrefixRoute, Queue, Trunk
from telephony.phone import dialable
from telephony.selectors import calls_visible_to, dids_visible_to, queues_visible_to


class QueueSerializer(ModelCleanSerializer):
    pbx = serializers.SlugRelatedField(slug_field="name", queryset=PbxServer.objects.all())

    class Meta:
        model = Queue
        fields = ["id", "name", "pbx", "strategy", "service_level_seconds", "on_logout"]
        extra_kwargs = {"name": {"min_length": 1}}  # the schema's minLength: blank names are refused


class QueueViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Call queues: supervisors create and edit; agents read the queues they belong to."""

    serializer_class = QueueSerializer
    permission_classes = [ReadOrModelPermission]
    filterset_fields = ["pbx__name", "name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return queues_visible_to(user=self.request.user)


class DidSerializer(ModelCleanSerializer):
    """`did` and `label` are the shape dashboards read (`LaCueva (0323300245)`); `outlet` is the label alone."""

    did = PhoneNumberField(
        keep=dialable,
        source="number",
        what="DID",
        validators=[UniqueValidator(queryset=Did.objects.all(), message="A DID with this number already exists.")],
    )
    label = serializers.CharField(source="__str__", read_only=True)
    outlet = serializers.CharField(source="label", max_length=100)

    class Meta:
        model = Did
        fields = ["did", "label", "outlet", "allow_inbound", "allow_outbound"]


class DidViewSet(ProtectedDestroy, viewsets.ModelViewSet):
    """Public numbers, as a plain list. Supervisors see and edit them all; agents read those their calls may
    present. Also served at /api/users/inbound_route/dids, the path older dashboards read."""

    serializer_class = DidSerializer
    permission_classes = [ReadOrModelPermission]
    pagination_class = None
    lookup_field = "number"
    lookup_url_kwarg = "number"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return dids_visible_to(user=self.request.user)


class TrunkSerializer(ModelCleanSerializer):
    pbx = serializers.SlugRelatedField(slug_field="name", queryset=PbxServer.objects.all())

    class Meta:
        model = Trunk
        fields = ["id", "name", "pbx", "enabled"]


class PrefixRouteSerializer(ModelCleanSerializer):
    pbx = serializers.SlugRelatedField(slug_field="name", queryset=PbxServer.objects.all())
    did = serializers.SlugRelatedField(slug_field="number", queryset=Did.objects.all())

    class Meta:
        model = PrefixRoute
        fields = ["id", "pbx", "prefix", "did"]


class OutboundRouteSerializer(ModelCleanSerializer):
    pbx = serializers.SlugRelatedField(slug_field="name", queryset=PbxServer.objects.all())
    did = serializers.SlugRelatedField(slug_field="number", queryset=Did.objects.all(), allow_null=True, required=False)

    class Meta:
        model = OutboundRoute
        fields = ["id", "pbx", "name", "match", "min_length", "max_length", "strip", "prepend", "trunk", "did"]


class InboundRouteSerializer(ModelCleanSerializer):
    pbx = serializers.SlugRelatedField(slug_field="name", queryset=PbxServer.objects.all())
    did = serializers.SlugRelatedField(slug_field="number", queryset=Did.objects.all())
    agent = serializers.SlugRelatedField(
        slug_field="extension", queryset=Agent.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = InboundRoute
        fields = ["id", "did", "pbx", "target", "queue", "agent", "extension"]


class SupervisorViewSet(ProtectedDestroy, viewsets.ModelViewSet):
    """Routing configuration: supervisors only (model permissions, reads included)."""

    permission_classes = [ModelPermission]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return self.serializer_class.Meta.model.objects.all()


class TrunkViewSet(SupervisorViewSet):
    """Trunks: the PBX's PJSIP endpoint (Asterisk) or Sofia gateway (FreeSWITCH) calls go out through."""

    serializer_class = TrunkSerializer
    filterset_fields = ["pbx__name", "enabled"]


class PrefixRouteViewSet(SupervisorViewSet):
    """Prefixes an agent dials before a number to present a chosen DID; no prefix may begin another."""

    serializer_class = PrefixRouteSerializer
    filterset_fields = ["pbx__name"]


class OutboundRouteViewSet(SupervisorViewSet):
    """Outbound routes: the longest matching leading digits choose the trunk, the rewriting and the caller ID."""

    serializer_class = OutboundRouteSerializer
    filterset_fields = ["pbx__name", "trunk"]


class InboundRouteViewSet(SupervisorViewSet):
    """Where calls to a DID go: a queue, an agent or an extension (one route per DID)."""

    serializer_class = InboundRouteSerializer
    filterset_fields = ["pbx__name", "target"]


class ClickToCallSerializer(serializers.ModelSerializer):
    """A click-to-call: the agent's phone rings first, then `number` is dialled through the agent's outbound
    routing, presenting `did` (or what the routing chooses). `state`: requested, ringing, answered, failed
    (`error` in the PBX's words)."""

    number = PhoneNumberField(keep=dialable)
    did = serializers.SlugRelatedField(slug_field="number", queryset=Did.objects.all(), allow_null=True, required=False)

    class Meta:
        model = CallRequest
        fields = ["id", "extension", "number", "did", "state", "error", "pbx_call_id", "created_at", "updated_at"]
        read_only_fields = ["state", "error", "pbx_call_id", "created_at", "updated_at"]

    def validate_did(self, did: Did | None) -> Did | None:
        if did is not None and not did.allow_outbound:
            raise serializers.ValidationError(f"{did} does not allow outbound use, so calls cannot present it.")
        return did

    def validate_extension(self, extension: str) -> str:
        if not Agent.objects.filter(extension=extension).exists():
            raise serializers.ValidationError(f"No agent has extension {extension}.")
        return extension


class CallViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Click-to-call. Agents call from their own extension; supervisors from any. The same `Idempotency-Key`
    (per user) gives the same call, never a second one; used with other values it is refused (409)."""

    serializer_class = ClickToCallSerializer
    filterset_fields = ["state", "extension"]

    def get_queryset(self):
        return calls_visible_to(user=self.request.user).select_related("did")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description=f"Unique per call you mean to place: {IDEMPOTENCY_RULE}.",
            )
        ],
        responses={201: ClickToCallSerializer, 200: ClickToCallSerializer},
    )
    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        agent = Agent.objects.get(extension=data["extension"])
        if agent.user_id != request.user.pk and not request.user.has_perm("telephony.add_callrequest"):
            raise PermissionDenied("Agents may call only from their own extension.")
        key = request.headers.get("Idempotency-Key", "")
        if not IDEMPOTENCY_KEY.fullmatch(key):
            return Response(
                {"Idempotency-Key": [f"This header is required: {IDEMPOTENCY_RULE}."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        did = data.get("did")
        call, created = services.call_request(
            user=request.user, agent=agent, number=data["number"], did=did, idempotency_key=key
        )
        if (call.extension, call.number, call.did_id) != (agent.extension, data["number"], did.pk if did else None):
            return Response(
                {"Idempotency-Key": ["This key was used for another call: use a new key for a new call."]},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(
            self.get_serializer(call).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
