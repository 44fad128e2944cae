"""Shared API pieces: who may write, and model validation in serializers."""

from __future__ import annotations

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import permissions, serializers


class ReadOrModelPermission(permissions.DjangoModelPermissions):
    """Any signed-in user may read (querysets scope what they see); writes need the model permission."""

    perms_map = {**permissions.DjangoModelPermissions.perms_map, "GET": [], "HEAD": [], "OPTIONS": []}


class ModelCleanSerializer(serializers.ModelSerializer):
    """Runs the model's own `clean()` so the API and the admin reject the same things."""

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        instance = copy.copy(self.instance) if self.instance else self.Meta.model()
        for key, value in attrs.items():
            setattr(instance, key, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return attrs
