"""The OpenAPI schema's class: drf-spectacular's, with the error answers every operation can give.

Kept apart from mayday.api: drf-spectacular's base imports rest_framework.views, which loads the parser and
throttle classes named in settings (mayday.api, mayday.signin); this module is loaded only after them.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers


class ErrorSerializer(serializers.Serializer):
    """What went wrong."""

    detail = serializers.CharField()


class ThrottledSerializer(ErrorSerializer):
    """Too many requests: what went wrong, and when to try again."""

    retry_after_seconds = serializers.IntegerField(required=False, help_text="Also in the `Retry-After` header.")


ERRORS = {
    "400": OpenApiResponse(OpenApiTypes.OBJECT, "Invalid request: the complaints, by field (or `detail`)."),
    "401": OpenApiResponse(ErrorSerializer, "Not signed in: no token, or a wrong or expired one."),
    "403": OpenApiResponse(ErrorSerializer, "Signed in, but not allowed to do this."),
    "404": OpenApiResponse(ErrorSerializer, "No such object (or page)."),
    "429": OpenApiResponse(ThrottledSerializer, "Too many requests: try again after `Retry-After` seconds."),
}


def with_errors(schema, operation: dict | None) -> dict | None:
    """The operation with the errors DRF answers without the view saying so: 400 when it reads a body or query
    parameters, 401 and 403 when it needs a signed-in user, 404 when it names an object (or a page), 429 for a
    throttled write. Views document their other answers with @extend_schema."""
    if operation is None:
        return None
    parameters = operation.get("parameters", [])
    places = {parameter["in"] for parameter in parameters}
    security = operation.get("security", [])
    codes = set()
    if "requestBody" in operation or "query" in places:
        codes.add("400")
    if security and {} not in security:
        codes |= {"401", "403"}
    if "path" in places or any(parameter["name"] == "page" for parameter in parameters):
        codes.add("404")
    if schema.method not in permissions.SAFE_METHODS and schema.view.throttle_classes:
        codes.add("429")
    responses = operation["responses"]
    for code in codes - set(responses):
        responses[code] = schema._get_response_for_code(ERRORS[code], code)
    operation["responses"] = dict(sorted(responses.items()))
    return operation


class AutoSchema(openapi.AutoSchema):
    """REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]."""

    def get_operation(self, *args, **kwargs):
        return with_errors(self, super().get_operation(*args, **kwargs))
