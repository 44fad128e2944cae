"""Supervisors' view of the phone system: PBX servers, queues, memberships and DIDs."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.timezone import localtime

from agents.models import DEVICE_WORDS
from telephony import services
from telephony.models import OBSERVED_FIELDS, ConnectionState, Did, PbxServer, Queue, QueueMembership
from telephony.pbx.base import PbxError
from telephony.selectors import snapshot_lines

# How Mayday creates a missing mod_callcenter agent (FreeSWITCH only; their help texts say so).
AGENT_FIELDS = [
    "agent_contact",
    "agent_max_no_answer",
    "agent_wrap_up_time",
    "agent_reject_delay_time",
    "agent_busy_delay_time",
    "agent_no_answer_delay_time",
]


class PbxServerForm(forms.ModelForm):
    # Write-only: never rendered back; left empty on edit, the stored secret stays.
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text="AMI secret or ESL password. Never shown; leave empty to keep the current one.",
    )

    class Meta:
        model = PbxServer
        fields = [
            "name",
            "kind",
            "host",
            "port",
            "username",
            "secret",
            "domain",
            *AGENT_FIELDS,
            "enabled",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # FreeSWITCH-only settings: an Asterisk server need not fill them in; left empty, they keep their value.
        for name in AGENT_FIELDS:
            if name in self.fields:  # view-only users get a form without them
                self.fields[name].required = False

    def clean_secret(self) -> str:
        return self.cleaned_data["secret"] or (self.instance.secret if self.instance.pk else "")

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in AGENT_FIELDS:
            if name in self.fields and cleaned.get(name) in (None, "") and name not in self.errors:
                cleaned[name] = getattr(self.instance, name)  # a new server's are the model defaults
        return cleaned


@admin.register(PbxServer)
class PbxServerAdmin(admin.ModelAdmin):
    form = PbxServerForm
    # Chosen to fit a 1366 px laptop: the connection state and its last error stay in view.
    list_display = ["name", "kind", "address", "enabled", "connection", "error"]
    list_filter = ["kind", "enabled", "state"]
    search_fields = ["name", "host"]
    readonly_fields = ["state", "last_connected_at", "last_error", "last_reconciled_at", "drift"]
    actions = ["test_connection"]

    @admin.display(description="Address")
    def address(self, pbx: PbxServer) -> str:
        return f"{pbx.host}:{pbx.port}"

    @admin.display(ordering="state", description="Connection")
    def connection(self, pbx: PbxServer) -> str:
        since = f" since {localtime(pbx.last_connected_at):%d %b %H:%M}" if pbx.last_connected_at else ""
        return pbx.get_state_display() + (since if pbx.state == ConnectionState.CONNECTED else "")

    @admin.display(description="Last error")
    def error(self, pbx: PbxServer) -> str:
        short = pbx.last_error if len(pbx.last_error) <= 60 else pbx.last_error[:59] + "…"
        return format_html('<span title="{}">{}</span>', pbx.last_error, short) if pbx.last_error else "-"

    @admin.action(description="Test connection (log in and read queues)", permissions=["view"])
    def test_connection(self, request, queryset) -> TemplateResponse:
        """Every PBX's whole answer (or its own error) on a page of its own."""
        results = []
        for pbx in queryset:
            try:
                results.append((pbx, True, snapshot_lines(pbx=pbx, snap=services.pbx_check(pbx=pbx))))
            except PbxError as exc:
                results.append((pbx, False, [exc.message]))
        context = {**self.admin_site.each_context(request), "title": "Test connection", "results": results}
        return TemplateResponse(request, "admin/telephony/pbxserver/test_connection.html", context)

    def get_fields(self, request, obj=None):
        fields = [*PbxServerForm.Meta.fields, *self.readonly_fields]
        # View-only users (supervisors) get every field as text: leave the secret out entirely.
        if not self.has_change_permission(request, obj):
            fields.remove("secret")
        return fields


class PhoneWords:
    """What the PBX says about a member, in words (device states as the pages show them)."""

    @admin.display(description="Phone")
    def phone(self, membership: QueueMembership) -> str:
        return DEVICE_WORDS.get(membership.device_state, membership.device_state or "-")


# The observed fields in the order people read them, the device state in words.
OBSERVED_SHOWN = [f if f != "device_state" else "phone" for f in OBSERVED_FIELDS]


class ObservedMembershipInline(PhoneWords, admin.TabularInline):
    """Memberships with what the PBX last said about each (read-only, updated live by the listener)."""

    model = QueueMembership
    extra = 1
    fields = ["agent", "penalty", *OBSERVED_SHOWN]
    readonly_fields = OBSERVED_SHOWN
    autocomplete_fields = ["agent"]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "pbx", "strategy", "service_level_seconds", "wrap_up_seconds", "on_logout", "member_count"]
    list_select_related = ["pbx"]
    list_filter = ["pbx", "strategy"]
    search_fields = ["name"]
    inlines = [ObservedMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count", description="Members")
    def member_count(self, queue: Queue) -> int:
        return queue.member_count


@admin.register(QueueMembership)
class QueueMembershipAdmin(PhoneWords, admin.ModelAdmin):
    list_display = ["queue", "agent", "penalty", *OBSERVED_SHOWN]
    list_select_related = ["queue__pbx", "agent__user", "agent__pbx"]
    list_filter = ["queue", "on_pbx", "paused", "in_call"]
    search_fields = ["agent__extension", "agent__display_name", "queue__name"]
    autocomplete_fields = ["agent", "queue"]


@admin.register(Did)
class DidAdmin(admin.ModelAdmin):
    list_display = ["number", "label", "allow_inbound", "allow_outbound"]
    list_filter = ["allow_inbound", "allow_outbound"]
    search_fields = ["number", "label"]
