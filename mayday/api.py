"""Shared API pieces: who may write, model validation in serializers, and who is calling from where."""

from __future__ import annotations

import copy
import ipaddress

from django.conf import settings
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


def client_ip(request) -> str | None:
    """The caller's address: the connection's, or behind trusted proxies (MAYDAY_TRUSTED_PROXIES) the
    last X-Forwarded-For entry that is not one of them. None when the hop that counts is no address."""
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed([*hops, request.META.get("REMOTE_ADDR", "")]):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return None
        if not any(address in network for network in settings.MAYDAY_TRUSTED_PROXIES):
            return hop
    return None  # only our own proxies: no client address to give
