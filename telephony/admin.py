"""Supervisors' view of the phone system: PBX servers, queues, memberships, DIDs, trunks, routes and calls."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.timezone import localtime
from import_export import fields, resources, widgets
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats

from agents.models import DEVICE_WORDS
from telephony import services
from telephony.models import (
    OBSERVED_FIELDS,
    CallRequest,
    ConnectionState,
    Did,
    InboundRoute,
    OutboundRoute,
    PbxKind,
    PbxServer,
    PrefixRoute,
    Queue,
    QueueMembership,
    Trunk,
)
from telephony.pbx import dialplan
from telephony.pbx.base import PbxError
from telephony.phone import dialable
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
    readonly_fields = ["state", "last_connected_at", "last_error", "last_reconciled_at", "drift", "routing_dialplan"]
    actions = ["test_connection"]

    def get_urls(self):
        view = self.admin_site.admin_view(self.dialplan_view)
        return [path("<path:object_id>/dialplan/", view, name="telephony_pbxserver_dialplan"), *super().get_urls()]

    def dialplan_view(self, request, object_id: str) -> HttpResponse:
        """The include that reads the routing data, to install once on the PBX (the README says how)."""
        pbx = self.get_object(request, object_id)
        if pbx is None:
            raise Http404("No such PBX server.")
        if not self.has_view_permission(request, pbx):
            raise PermissionDenied
        response = HttpResponse(dialplan.render(pbx.kind, domain=pbx.domain), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{dialplan_filename(pbx)}"'
        return response

    @admin.display(description="Routing dialplan")
    def routing_dialplan(self, pbx: PbxServer) -> str:
        if not pbx.pk:
            return "-"
        url = reverse("admin:telephony_pbxserver_dialplan", args=[pbx.pk])
        return format_html(
            '<a href="{}">Download {}</a> — install once; routes and DIDs then reach the PBX by themselves.',
            url,
            dialplan_filename(pbx),
        )

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


def dialplan_filename(pbx: PbxServer) -> str:
    return "extensions_mayday.conf" if pbx.kind == PbxKind.ASTERISK else "mayday.xml"


class YesNo(widgets.BooleanWidget):
    """1/0, true/false or yes/no, in any case; anything else is an error of its row (the library would read
    `yes` as false)."""

    WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}

    def clean(self, value, row=None, **kwargs):
        word = str(value if value is not None else "").strip().lower()
        if word not in self.WORDS:
            raise ValueError(f"{value!r} is not a yes or no: use 1 or 0.")
        return self.WORDS[word]


class DidResource(resources.ModelResource):
    """DIDs in and out as CSV (number, label, allow_inbound, allow_outbound). Each row is validated as the form
    validates it; a bad row is reported with its line and nothing is imported until every row is good."""

    allow_inbound = fields.Field(attribute="allow_inbound", column_name="allow_inbound", widget=YesNo())
    allow_outbound = fields.Field(attribute="allow_outbound", column_name="allow_outbound", widget=YesNo())

    class Meta:
        model = Did
        fields = ["number", "label", "allow_inbound", "allow_outbound"]
        import_id_fields = ["number"]
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = False

    def before_import_row(self, row, **kwargs) -> None:
        # Written in any accepted form, a number is the DID already held: match on the form kept.
        try:
            row["number"] = dialable((row.get("number") or "").strip(), "DID")
        except ValidationError:
            pass  # the row's own validation reports it


class InboundRouteInline(admin.StackedInline):
    model = InboundRoute
    extra = 0
    max_num = 1
    fields = ["pbx", "target", "queue", "agent", "extension"]
    autocomplete_fields = ["queue", "agent"]


@admin.register(Did)
class DidAdmin(ImportExportModelAdmin):
    resource_classes = [DidResource]
    formats = [base_formats.CSV]
    list_display = ["number", "label", "allow_inbound", "allow_outbound", "inbound"]
    list_select_related = ["inbound_route__queue__pbx", "inbound_route__agent"]
    list_filter = ["allow_inbound", "allow_outbound"]
    search_fields = ["number", "label"]
    inlines = [InboundRouteInline]

    @admin.display(description="Incoming calls go to")
    def inbound(self, did: Did) -> str:
        route = getattr(did, "inbound_route", None)
        return route.describe() if route else "-"


@admin.register(Trunk)
class TrunkAdmin(admin.ModelAdmin):
    list_display = ["name", "pbx", "enabled"]
    list_filter = ["pbx", "enabled"]
    search_fields = ["name"]


@admin.register(PrefixRoute)
class PrefixRouteAdmin(admin.ModelAdmin):
    list_display = ["prefix", "did", "pbx"]
    list_select_related = ["did", "pbx"]
    list_filter = ["pbx"]
    search_fields = ["prefix", "did__number", "did__label"]


@admin.register(OutboundRoute)
class OutboundRouteAdmin(admin.ModelAdmin):
    list_display = ["name", "pbx", "leading_digits", "lengths", "strip", "prepend", "trunk", "did"]
    list_select_related = ["pbx", "trunk__pbx", "did"]
    list_filter = ["pbx", "trunk"]
    search_fields = ["name", "match"]
    fields = ["pbx", "name", "match", "min_length", "max_length", "strip", "prepend", "trunk", "did"]

    @admin.display(ordering="match", description="Leading digits")
    def leading_digits(self, route: OutboundRoute) -> str:
        return route.match or "any other"

    @admin.display(description="Length")
    def lengths(self, route: OutboundRoute) -> str:
        return f"{route.min_length}-{route.max_length}"


@admin.register(CallRequest)
class CallRequestAdmin(admin.ModelAdmin):
    """Click-to-calls as placed through the API: read-only, with the PBX's words when one failed."""

    list_display = ["created_at", "extension", "number", "presented", "state", "error"]
    list_select_related = ["did"]
    list_filter = ["state", "pbx"]
    search_fields = ["extension", "number", "agent__display_name"]
    date_hierarchy = "created_at"

    @admin.display(ordering="did__number", description="DID")
    def presented(self, call: CallRequest) -> str:
        return call.did.number if call.did_id else "chosen by the routing"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
