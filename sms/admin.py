"""Text messages in the admin: read-only lists to look a message or a delivery report up, and the provider's
settings (one row, secrets write-only) with two checks against the provider itself: its balance, and a real
test message."""

from __future__ import annotations

import time
import uuid

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse

from agents.selectors import agent_for_user
from sms import services
from sms.models import SETTINGS_FIELDS, DeliveryReport, Message, ProviderSettings, Status
from sms.provider import ProviderError
from telephony.phone import e164

SECRETS = ("password", "auth_header", "webhook_token")
KEEP = "Never shown; leave empty to keep the current one."
# How long the test message's page waits for the provider's answer (the send runs after the row is committed,
# on a worker or a lane thread); a slower answer shows on the message's own page.
TEST_WAIT_SECONDS = 5.0


class ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReportInline(ReadOnly, admin.TabularInline):
    model = DeliveryReport
    fields = ["received_at", "level", "message_status", "fields"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Message)
class MessageAdmin(ReadOnly, admin.ModelAdmin):
    """Every text sent and received, with the provider's reports on each; written only by sending and by the
    provider's posts."""

    list_display = ["created_at", "direction", "customer", "agent", "status", "segments", "short_content"]
    list_filter = ["direction", "status", "agent"]
    list_select_related = ["agent"]
    search_fields = ["customer", "content", "provider_id"]
    date_hierarchy = "created_at"
    inlines = [ReportInline]

    @admin.display(description="Content")
    def short_content(self, message: Message) -> str:
        return message.content if len(message.content) <= 60 else message.content[:59] + "…"


@admin.register(DeliveryReport)
class DeliveryReportAdmin(ReadOnly, admin.ModelAdmin):
    """Delivery reports as the provider posted them, kept whole."""

    list_display = ["received_at", "provider_id", "level", "message_status", "message"]
    list_filter = ["level", "message_status"]
    list_select_related = ["message"]
    search_fields = ["provider_id"]
    date_hierarchy = "received_at"


def _secret(label: str, help_text: str) -> forms.CharField:
    """Write-only: never rendered back; left empty on edit, the stored value stays."""
    return forms.CharField(
        label=label,
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text=f"{help_text} {KEEP}".strip(),
    )


class ProviderSettingsForm(forms.ModelForm):
    password = _secret("Password", "")
    auth_header = _secret(
        "Authorization header", "A ready header value (e.g. Basic …), instead of a user and password."
    )
    webhook_token = _secret(
        "Webhook token", "The secret in the URLs the gateway posts to (?token=…). Empty: MAYDAY_SMS_WEBHOOK_TOKEN."
    )

    class Meta:
        model = ProviderSettings
        fields = SETTINGS_FIELDS

    def clean(self) -> dict:
        cleaned = super().clean()
        typed = {name: bool(cleaned.get(name)) for name in SECRETS}
        for name in SECRETS:
            if not typed[name]:
                cleaned[name] = getattr(self.instance, name) if self.instance.pk else ""
        # One way to sign in: a new header replaces the user name and password, a new password the header.
        if typed["auth_header"] and not typed["password"]:
            cleaned["username"] = cleaned["password"] = ""
        elif typed["password"] and not typed["auth_header"]:
            cleaned["auth_header"] = ""
        return cleaned


class TestMessageForm(forms.Form):
    to = forms.CharField(label="Number", max_length=24, help_text="Read as a number of MAYDAY_PHONE_REGION.")
    content = forms.CharField(label="Text", max_length=160, initial="Test message from Mayday.")
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)  # made with the form: sent twice, sent once

    def clean_to(self) -> str:
        return e164(self.cleaned_data["to"].strip(), "number")


@admin.register(ProviderSettings)
class ProviderSettingsAdmin(admin.ModelAdmin):
    """The provider's settings saved here replace the environment's (MAYDAY_SMS_*); deleting them falls back."""

    form = ProviderSettingsForm
    list_display = ["base_url", "signs_in_with", "default_sender", "dlr_url", "updated_at", "updated_by"]
    list_select_related = ["updated_by"]
    readonly_fields = ["updated_at", "updated_by"]
    actions = ["check_balance", "send_test_message"]

    @admin.display(description="Signs in with")
    def signs_in_with(self, row: ProviderSettings) -> str:
        return "an Authorization header" if row.auth_header else f"user {row.username}"

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not ProviderSettings.objects.exists()

    def get_fields(self, request, obj=None):
        fields = [*ProviderSettingsForm.Meta.fields, *self.readonly_fields]
        # View-only users get every field as text: leave the secrets out entirely.
        if not self.has_change_permission(request, obj):
            fields = [f for f in fields if f not in SECRETS]
        return fields

    def save_model(self, request, obj, form, change) -> None:
        saved = services.settings_save(
            user=request.user, values={name: getattr(obj, name) for name in ProviderSettingsForm.Meta.fields}
        )
        obj.pk, obj.updated_at, obj.updated_by = saved.pk, saved.updated_at, saved.updated_by

    def delete_model(self, request, obj) -> None:
        services.settings_remove()

    def delete_queryset(self, request, queryset) -> None:
        services.settings_remove()

    def _result(self, request, title: str, ok: bool, lines: list[str], message: Message | None = None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "ok": ok,
            "lines": lines,
            "message": message,
            "message_url": reverse("admin:sms_message_change", args=[message.pk]) if message else "",
        }
        return TemplateResponse(request, "admin/sms/providersettings/result.html", context)

    @admin.action(description="Check balance (ask the provider)", permissions=["view"])
    def check_balance(self, request, queryset) -> TemplateResponse:
        try:
            balance = services.balance_check()
        except ProviderError as exc:
            return self._result(request, "Check balance", False, [exc.message])
        return self._result(
            request,
            "Check balance",
            True,
            [f"Balance: {balance.balance or 'unlimited'}", f"Messages left: {balance.sms_count or 'unlimited'}"],
        )

    @admin.action(description="Send a test message (a real one)", permissions=["change"])
    def send_test_message(self, request, queryset) -> TemplateResponse:
        """Ask the number and text, then send it as any message is sent, and show what the provider said."""
        form = TestMessageForm(request.POST if "send" in request.POST else None, initial={"key": uuid.uuid4().hex})
        if form.is_bound and form.is_valid():
            message, _ = services.message_send(
                user=request.user,
                agent=agent_for_user(user=request.user),
                to=form.cleaned_data["to"],
                content=form.cleaned_data["content"],
                idempotency_key=form.cleaned_data["key"],
            )
            message = _settled(message)
            lines = [f"To {message.customer}: {message.get_status_display()}"]
            if message.provider_id:
                lines.append(f"Provider's id: {message.provider_id}")
            if message.error:
                lines.append(message.error)
            if message.status in (Status.QUEUED, Status.SENDING):
                lines.append("No answer yet: the message's page shows it when it comes.")
            ok = message.status not in (Status.FAILED, Status.UNDELIVERED)
            return self._result(request, "Send a test message", ok, lines, message)
        context = {
            **self.admin_site.each_context(request),
            "title": "Send a test message",
            "form": form,
            "selected": [row.pk for row in queryset],
        }
        return TemplateResponse(request, "admin/sms/providersettings/send_test.html", context)


def _settled(message: Message) -> Message:
    """The message once the provider has answered (sent or failed), or as it is after TEST_WAIT_SECONDS."""
    deadline = time.monotonic() + TEST_WAIT_SECONDS
    while message.status in (Status.QUEUED, Status.SENDING) and time.monotonic() < deadline:
        time.sleep(0.1)
        message.refresh_from_db()
    return message
