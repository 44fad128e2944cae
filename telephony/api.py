"""Queues and DIDs over the API."""

from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from mayday.api import ModelCleanSerializer, ReadOrModelPermission
from telephony.models import Did, PbxServer, Queue
from telephony.selectors import dids_all, queues_visible_to


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


class DidSerializer(serializers.ModelSerializer):
    did = serializers.CharField(source="number")
    label = serializers.CharField(source="__str__")

    class Meta:
        model = Did
        fields = ["did", "label"]


class DidViewSet(viewsets.ReadOnlyModelViewSet):
    """Public numbers with their outlet label, as a plain list (the shape existing dashboards read)."""

    serializer_class = DidSerializer
    pagination_class = None
    lookup_field = "number"

    def get_queryset(self):
        return dids_all()
