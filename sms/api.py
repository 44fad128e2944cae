"""Text messages over the API (the paths the old front-ends use), and the two URLs the provider posts to."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from mayday.api import IDEMPOTENCY_KEY, IDEMPOTENCY_RULE, PhoneNumberField, client_ip
from sms import services
from sms.models import SETTINGS_FIELDS, ProviderSettings
from sms.provider import ProviderError
from sms.selectors import (
    conversations,
    message_document,
    provider_config,
    provider_settings,
    thread,
    token_matches,
)
from telephony.phone import e164

log = logging.getLogger(__name__)

# An alphanumeric sender (up to 11 characters, GSM networks' limit) or a number.
SENDER = re.compile(r"[A-Za-z0-9 ._-]{1,11}|\+?[0-9]{3,16}")
ACK = "ACK/Jasmin"  # what the gateway must read back, or it posts again


class MessageSerializer(serializers.Serializer):
    """A text message: `status` is queued, sending, sent (accepted by the provider), delivered, undelivered,
    failed (`error` says why) or received (a customer's reply)."""

    id = serializers.UUIDField()
    direction = serializers.ChoiceField(choices=["outbound", "inbound"])
    customer = serializers.CharField()
    our_number = serializers.CharField()
    content = serializers.CharField()
    encoding = serializers.CharField()
    segments = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    error = serializers.CharField()
    agent = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)


class SendSerializer(serializers.Serializer):
    to = PhoneNumberField(keep=e164)
    content = serializers.CharField(max_length=1600, trim_whitespace=False)
    sender = serializers.CharField(source="from", required=False, allow_blank=True, trim_whitespace=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("sender")  # the provider's name for it, a Python keyword
        fields["from"].source = "sender"
        return fields

    def validate_content(self, content: str) -> str:
        try:
            return services.content_check(content)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate(self, attrs: dict) -> dict:
        sender = attrs.get("sender", "")
        if sender and not SENDER.fullmatch(sender):
            raise serializers.ValidationError(
                {"from": ["Use up to 11 letters, digits, spaces, '.', '_' or '-', or a number of 3-16 digits."]}
            )
        return attrs


class Sends(permissions.BasePermission):
    """Agents send from their page; supervisors (sms.add_message) send as anyone."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user.is_authenticated and (hasattr(user, "agent") or user.has_perm("sms.add_message")))


class SendView(APIView):
    permission_classes = [Sends]

    @extend_schema(
        request=SendSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The same key from the same user gives the same message, never a second one.",
            )
        ],
    )
    def post(self, request) -> Response:
        """Send a text to a customer: queued at once, handed to the provider right after (202-like: follow its
        `status` in the conversation or on the page)."""
        key = request.headers.get("Idempotency-Key", "")
        if key and not IDEMPOTENCY_KEY.fullmatch(key):
            return Response({"Idempotency-Key": [IDEMPOTENCY_RULE.capitalize() + "."]}, status=400)
        body = SendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        message, created = services.message_send(
            user=request.user,
            agent=Agent.objects.filter(user=request.user).first(),
            to=data["to"],
            content=data["content"],
            sender=data.get("sender", ""),
            idempotency_key=key,
        )
        if (message.customer, message.content) != (data["to"], data["content"]):
            return Response({"Idempotency-Key": ["This key was used for another message."]}, status=409)
        return Response(message_document(message), status=201 if created else 200)


class SupervisesSms(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        safe = request.method in permissions.SAFE_METHODS
        need = "sms.view_providersettings" if safe else "sms.change_providersettings"
        return request.user.is_authenticated and request.user.has_perm(need)


DETAIL = inline_serializer("SmsProblem", {"detail": serializers.CharField()})


class BalanceView(APIView):
    permission_classes = [SupervisesSms]

    @extend_schema(
        responses={
            200: inline_serializer(
                "SmsBalance",
                {
                    "balance": serializers.CharField(allow_null=True),
                    "sms_count": serializers.CharField(allow_null=True),
                },
            ),
            409: DETAIL,
            502: DETAIL,
        }
    )
    def get(self, request) -> Response:
        """The provider's balance; `null` where it says unlimited. 502 with its words when it cannot answer, 409
        when no provider is configured."""
        if provider_config() is None:
            return Response({"detail": "No SMS provider is configured."}, status=409)
        try:
            balance = services.balance_check()
        except ProviderError as exc:
            return Response({"detail": f"The SMS provider did not answer: {exc.message}"}, status=502)
        return Response({"balance": balance.balance, "sms_count": balance.sms_count})


class ProvidersView(APIView):
    permission_classes = [SupervisesSms]

    @extend_schema(
        responses=inline_serializer(
            "SmsProvider",
            {
                "name": serializers.CharField(),
                "label": serializers.CharField(),
                "source": serializers.ChoiceField(choices=["database", "environment", "none"]),
                "base_url": serializers.CharField(),
            },
            many=True,
        )
    )
    def get(self, request) -> Response:
        """The providers Mayday can use (one: a Jasmin gateway) and where their settings come from."""
        config, source = provider_settings()
        url = config.base_url if config else ""
        return Response([{"name": "jasmin", "label": "Jasmin SMS gateway", "source": source, "base_url": url}])


class ConfigSerializer(serializers.ModelSerializer):
    """Secrets (password, Authorization header, webhook token) are write-only: `has_…` says whether one is set."""

    source = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    has_password = serializers.SerializerMethodField()
    has_auth_header = serializers.SerializerMethodField()
    has_webhook_token = serializers.SerializerMethodField()

    class Meta:
        model = ProviderSettings
        fields = [
            "source",
            *SETTINGS_FIELDS,
            "has_password",
            "has_auth_header",
            "has_webhook_token",
            "updated_at",
        ]
        secrets = ("password", "auth_header", "webhook_token")
        extra_kwargs = {name: {"write_only": True, "trim_whitespace": False} for name in secrets}

    def get_source(self, row) -> str:
        return "database" if row.pk else "environment" if row.base_url else "none"

    def get_has_password(self, row) -> bool:
        return bool(row.password)

    def get_has_auth_header(self, row) -> bool:
        return bool(row.auth_header)

    def get_has_webhook_token(self, row) -> bool:
        return bool(row.webhook_token)


class ConfigView(APIView):
    permission_classes = [SupervisesSms]

    def _current(self) -> ProviderSettings:
        """The saved row, or the environment's settings in its shape (not saved)."""
        env = settings.MAYDAY_SMS
        return ProviderSettings.objects.filter(pk=1).first() or ProviderSettings(
            **{**env, "override_ip": env["override_ip"] or None}, webhook_token=settings.MAYDAY_SMS_WEBHOOK_TOKEN
        )

    @extend_schema(responses=ConfigSerializer)
    def get(self, request) -> Response:
        """The provider settings in use (`source`: database, saved here; or environment)."""
        return Response(ConfigSerializer(self._current()).data)

    @extend_schema(request=ConfigSerializer, responses=ConfigSerializer)
    def put(self, request) -> Response:
        """Save settings that replace the environment's. A secret left out keeps the one saved."""
        body = ConfigSerializer(data=request.data, partial=ProviderSettings.objects.filter(pk=1).exists())
        body.is_valid(raise_exception=True)
        try:
            row = services.settings_save(user=request.user, values=body.validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return Response(ConfigSerializer(row).data)

    post = put

    @extend_schema(responses={204: None})
    def delete(self, request) -> Response:
        """Remove the saved settings: the environment's apply again."""
        services.settings_remove()
        return Response(status=204)


class ConversationsView(generics.ListAPIView):
    """The latest message of each conversation you see (agents: those they took part in), newest first."""

    serializer_class = MessageSerializer

    def get_queryset(self):
        return conversations(user=self.request.user)

    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([message_document(m) for m in page])


@extend_schema_view(get=extend_schema(operation_id="api_sms_conversation"))
class ThreadView(generics.ListAPIView):
    """One conversation, oldest first: every message to and from this number (in any form: it is read as a number
    of MAYDAY_PHONE_REGION)."""

    serializer_class = MessageSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's look at the view: no number to read
            return thread(user=self.request.user, customer="")
        try:
            customer = e164(self.kwargs["phone"], "phone number")
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"phone": exc.messages}) from exc
        return thread(user=self.request.user, customer=customer)

    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([message_document(m) for m in page])


# ---- what the provider posts: plain views, answered as the gateway expects -------------------------------------


def _webhook(request, required: tuple[str, ...]) -> tuple[dict[str, str] | None, HttpResponse | None]:
    """The posted fields, or the answer that refuses them: 403 for a wrong token (logged), 400 for a body that is
    not the provider's."""
    if not token_matches(request.GET.get("token", "")):
        log.warning("SMS webhook %s refused: wrong or missing token (from %s)", request.path, client_ip(request))
        return None, HttpResponse("Forbidden: wrong token.\n", status=403, content_type="text/plain")
    fields = {key: value for key, value in request.POST.items()}
    missing = [name for name in required if not fields.get(name, "").strip()]
    if missing:
        return None, HttpResponse(f"Missing {', '.join(missing)}.\n", status=400, content_type="text/plain")
    if len(fields["id"]) > 64 or any(ch in fields["id"] for ch in "\r\n"):
        return None, HttpResponse("The id is not one the provider gives.\n", status=400, content_type="text/plain")
    return fields, None


@csrf_exempt
@require_POST
def dlr(request) -> HttpResponse:
    """A delivery report: kept as it came, applied to its message (now, or when the message's id is known)."""
    fields, refusal = _webhook(request, ("id", "message_status"))
    if refusal is not None:
        return refusal
    if fields.get("level", "") not in ("1", "2", "3"):
        return HttpResponse("level must be 1, 2 or 3.\n", status=400, content_type="text/plain")
    services.report_record(fields=fields)
    return HttpResponse(ACK, content_type="text/plain")


@csrf_exempt
@require_POST
def inbound(request) -> HttpResponse:
    """A customer's reply: one message however often it is posted."""
    fields, refusal = _webhook(request, ("id", "from", "to", "content"))
    if refusal is not None:
        return refusal
    try:
        customer = e164(fields["from"].strip(), "sender number")
    except DjangoValidationError as exc:
        return HttpResponse(f"{exc.messages[0]}\n", status=400, content_type="text/plain")
    services.reply_record(fields=fields, customer=customer, our_number=fields["to"][:24])
    return HttpResponse(ACK, content_type="text/plain")
