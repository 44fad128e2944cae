"""Shared API pieces: the JSON parser, who may write, model validation in serializers, and who is calling
from where."""

from __future__ import annotations

import copy
import ipaddress
import json
import re

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from rest_framework import parsers, permissions, serializers
from rest_framework.exceptions import ParseError
from rest_framework.response import Response


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing what it lets through to crash later: nesting deeper than Python recurses
    (`[` x 100,000) and lone surrogates (`"\\ud800"` is valid JSON but not text)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode()
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        except UnicodeEncodeError as exc:
            raise ParseError("JSON parse error - a string holds a lone surrogate, which is not text.") from exc
        return data


class ProtectedDestroy:
    """Deleting a row others still point at (a DID presented by a route, a trunk with routes) is refused with
    what holds it, not a server error."""

    def destroy(self, request, *args, **kwargs):
        try:
            return super().destroy(request, *args, **kwargs)
        except ProtectedError as exc:
            held = ", ".join(sorted({str(row) for row in exc.protected_objects})[:5])
            return Response({"detail": f"Still in use by {held}: change or delete those first."}, status=409)


class ModelPermission(permissions.DjangoModelPermissions):
    """Reads need the model's view permission too (routing and trunks are for supervisors only)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class ReadOrModelPermission(permissions.DjangoModelPermissions):
    """Any signed-in user may read (querysets scope what they see); writes need the model permission."""

    perms_map = {**permissions.DjangoModelPermissions.perms_map, "GET": [], "HEAD": [], "OPTIONS": []}


# An `Idempotency-Key` header (click-to-call, SMS): the same key from the same user gives the same result.
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
IDEMPOTENCY_RULE = "use 1-64 letters, digits, '_', '.', ':' or '-'"


class PhoneNumberField(serializers.CharField):
    """A number read against MAYDAY_PHONE_REGION (telephony.phone), given back in the form `keep` makes of it
    (`dialable` for the PBX, `e164` for SMS gateways) before any uniqueness check sees it."""

    def __init__(self, *, keep, what: str = "number", **kwargs) -> None:
        self.keep, self.what = keep, what
        super().__init__(max_length=24, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data) -> str:
        try:
            return self.keep(super().to_internal_value(data), self.what)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class ModelCleanSerializer(serializers.ModelSerializer):
    """Runs the model's own `clean()` so the API and the admin reject the same things. Text is taken as sent:
    a space or line break around a value is refused by the validators, never trimmed into a valid one."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if issubclass(field_class, serializers.CharField):
            kwargs["trim_whitespace"] = False
        return field_class, kwargs

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        instance = copy.copy(self.instance) if self.instance else self.Meta.model()
        for key, value in attrs.items():
            setattr(instance, key, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return {key: getattr(instance, key) for key in attrs}  # as clean() left them (a number in its kept form)


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
