"""Agents over the API."""

from __future__ import annotations

from rest_framework import serializers, viewsets

from agents.models import Agent
from agents.selectors import agents_visible_to


class AgentSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    pbx = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Agent
        fields = ["extension", "username", "display_name", "pbx"]


class AgentViewSet(viewsets.ReadOnlyModelViewSet):
    """Agents: supervisors see everyone, an agent sees only themselves."""

    serializer_class = AgentSerializer
    lookup_field = "extension"
    lookup_value_regex = "[A-Za-z0-9_.-]+"
    filterset_fields = ["pbx__name"]

    def get_queryset(self):
        return agents_visible_to(user=self.request.user)
