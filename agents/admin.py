"""Supervisors manage agents here: one form creates (or links) the sign-in user and the agent."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from knox.models import AuthToken

from agents import live, services
from agents.models import (
    AGENTS_GROUP,
    LABELS,
    SYNC_WORDS,
    Agent,
    AgentStatusEvent,
    Availability,
    ClientSession,
    PauseReason,
    StatusSource,
)
from agents.selectors import linkable_as_agent, may_manage_user, presence_of, with_status
from telephony.models import QueueMembership

User = get_user_model()


class AgentAdminForm(forms.ModelForm):
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Sign-in name, usually the extension. An existing user without an agent is linked.",
    )
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text="Required for a new user; leave empty to keep the current password.",
    )

    class Meta:
        model = Agent
        fields = ["username", "password", "extension", "display_name", "pbx", "default_did"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["username"].initial = self.instance.user.username

    actor = None  # the signed-in user, set by AgentAdmin.get_form

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        self.existing_user = User.objects.filter(username=username).first()
        owner = Agent.objects.filter(user=self.existing_user).exclude(pk=self.instance.pk).first()
        if owner:
            raise forms.ValidationError(f"User {username} is already agent {owner.extension}.")
        linking = self.existing_user is not None and self.existing_user.pk != self.instance.user_id
        if linking and not linkable_as_agent(self.existing_user):
            raise forms.ValidationError(
                f"User {username} can do more than an agent (staff, superuser or another role): "
                "it cannot become an agent here. Pick another sign-in name."
            )
        return username

    def clean(self) -> dict:
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            if self.existing_user is not None and not may_manage_user(actor=self.actor, user=self.existing_user):
                self.add_error("password", "This user can do more than you can: you cannot set their password.")
            else:
                password_validation.validate_password(password, self.existing_user)
        elif "username" in cleaned and self.existing_user is None:
            self.add_error("password", "A new user needs a password.")
        return cleaned

    def save(self, commit: bool = True) -> Agent:
        user = self.existing_user or User(username=self.cleaned_data["username"])
        if self.cleaned_data["password"]:
            user.set_password(self.cleaned_data["password"])
        user.save()
        user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
        self.instance.user = user
        return super().save(commit)


class MembershipInline(admin.TabularInline):
    model = QueueMembership
    extra = 1
    fields = ["queue", "penalty"]
    autocomplete_fields = ["queue"]


class ActiveSessionInline(admin.TabularInline):
    """The agent's softphone sessions that are open now."""

    model = ClientSession
    verbose_name_plural = "active client sessions"
    fields = readonly_fields = ["client_type", "ip", "user_agent", "created_at", "last_heartbeat_at", "expires_at"]
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(closed_at__isnull=True, expires_at__gt=timezone.now())

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class StatusActionForm(helpers.ActionForm):
    reason = forms.ModelChoiceField(
        queryset=PauseReason.objects.filter(active=True), required=False, empty_label="(reason for a break)"
    )


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentAdminForm
    action_form = StatusActionForm
    actions = ["make_available", "put_on_break", "sign_out"]
    # Chosen to fit a 1366 px laptop: the live columns stay in view.
    list_display = [
        "extension",
        "name",
        "pbx",
        "live_availability",
        "live_presence",
        "live_sync",
        "queue_count",
    ]
    list_filter = ["availability", "sync_state", "pbx", "memberships__queue"]
    search_fields = ["extension", "display_name", "user__username"]
    fieldsets = [(None, {"fields": ["username", "password", "extension", "display_name", "pbx", "default_did"]})]
    # What only an existing agent has: its status and what the phone system says about it.
    live_fieldsets = [
        ("Status", {"fields": ["availability", "pause_reason", "status_since", "phone_system", "sync_error"]}),
        ("What the phone system sees", {"fields": ["freeswitch_agent", "sip_endpoint", "sip_contact", "sip_seen_at"]}),
    ]
    inlines = [MembershipInline, ActiveSessionInline]

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets + (self.live_fieldsets if obj else [])

    def get_readonly_fields(self, request, obj=None):
        return [field for _, options in self.live_fieldsets for field in options["fields"]] if obj else []

    def get_inlines(self, request, obj):
        return self.inlines if obj else [MembershipInline]

    @admin.display(description="Phone system")
    def phone_system(self, agent: Agent) -> str:
        return SYNC_WORDS[agent.sync_state]

    @admin.display(description="FreeSWITCH agent (status · state)")
    def freeswitch_agent(self, agent: Agent) -> str:
        return " · ".join(v for v in (agent.pbx_status, agent.pbx_state) if v) or "-"

    @admin.display(description="SIP contact")
    def sip_contact(self, agent: Agent) -> str:
        if not agent.sip_status:
            return "-"
        rtt = f", round trip {agent.sip_rtt_usec / 1000:.1f} ms" if agent.sip_rtt_usec is not None else ""
        return f"{agent.sip_status}{rtt}" + (f" at {agent.sip_uri}" if agent.sip_uri else "")

    def get_queryset(self, request):
        # A GROUP BY drops the model's ordering: say it again, or pages (and autocomplete) may repeat agents.
        queryset = with_status(super().get_queryset(request)).annotate(queue_count=Count("memberships"))
        return queryset.order_by("extension")

    def get_deleted_objects(self, objs, request):
        """An agent's history and client sessions go with it: nobody deletes them one by one, so deleting an
        agent needs no permission on them."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        owned = {AgentStatusEvent._meta.verbose_name, ClientSession._meta.verbose_name}
        return deleted, counts, perms_needed - owned, protected

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    # The status columns are written as the page script writes them when the agent changes (live).
    change_list_template = "admin/agents/agent/change_list.html"

    class Media:
        js = ["js/live.js", "js/admin_agents.js"]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "labels": LABELS})

    @staticmethod
    def _live(agent: Agent, field: str, text: str) -> str:
        return format_html('<span data-agent="{}" data-live="{}">{}</span>', agent.extension, field, text)

    @admin.display(ordering="display_name", description="Name")
    def name(self, agent: Agent) -> str:
        return agent.display_name

    @admin.display(ordering="availability", description="Availability")
    def live_availability(self, agent: Agent) -> str:
        reason = f" · {agent.pause_reason.name}" if agent.pause_reason_id else ""
        return self._live(agent, "availability", LABELS[agent.availability] + reason)

    @admin.display(description="Presence")
    def live_presence(self, agent: Agent) -> str:
        found = presence_of(agent, agent.recent_sessions, timezone.now())
        where = f" ({found['client_type'] or found['ip']})" if found["ip"] else ""
        return self._live(agent, "presence", LABELS[found["presence"]] + where)

    @admin.display(ordering="sync_state", description="Phone system")
    def live_sync(self, agent: Agent) -> str:
        return format_html(
            '<span data-agent="{}" data-live="sync" title="{}">{}</span>',
            agent.extension,
            agent.sync_error,
            SYNC_WORDS[agent.sync_state] + (" (see why)" if agent.sync_error else ""),
        )

    @transaction.atomic  # one commit
    def _request(self, request, agents, availability: str, reason: PauseReason | None = None) -> None:
        done = 0
        with live.together():  # the board gets the whole action as one change
            for agent in agents:
                try:
                    services.agent_request_status(
                        agent=agent,
                        availability=availability,
                        reason=reason.name if reason else None,
                        source=StatusSource.SUPERVISOR,
                        actor=request.user,
                    )
                    done += 1
                except ValidationError as exc:
                    self.message_user(request, f"{agent.extension}: {exc.messages[0]}", messages.ERROR)
        if done:
            self.message_user(request, f"Asked the phone system to apply this to {done} agent(s).", messages.SUCCESS)

    @admin.action(description="Make available", permissions=["change"])
    def make_available(self, request, queryset):
        self._request(request, queryset, Availability.AVAILABLE)

    @admin.action(description="Put on break (pick the reason beside the action)", permissions=["change"])
    def put_on_break(self, request, queryset):
        field = StatusActionForm.base_fields["reason"]
        try:
            reason = field.clean(request.POST.get("reason"))
        except ValidationError:
            reason = None
        if reason is None:
            self.message_user(request, "Pick a reason for the break.", messages.ERROR)
            return
        self._request(request, queryset, Availability.ON_BREAK, reason)

    @admin.action(description="Sign out", permissions=["change"])
    def sign_out(self, request, queryset):
        self._request(request, queryset, Availability.LOGGED_OUT)

    @admin.display(ordering="user__username", description="Sign-in name")
    def username(self, agent: Agent) -> str:
        return agent.user.username

    @admin.display(ordering="queue_count", description="Queues")
    def queue_count(self, agent: Agent) -> int:
        return agent.queue_count


@admin.register(PauseReason)
class PauseReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "is_default", "max_minutes", "display_order"]
    list_editable = ["active", "max_minutes", "display_order"]
    list_filter = ["active"]
    search_fields = ["name"]


@admin.register(ClientSession)
class ClientSessionAdmin(admin.ModelAdmin):
    """Softphone sessions; closing one here ends it (the client must open a new one)."""

    list_display = ["agent", "client_type", "ip", "created_at", "last_heartbeat_at", "expires_at", "closed_at"]
    list_filter = ["client_type", ("closed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["agent"]
    search_fields = ["agent__extension", "agent__display_name", "ip"]
    # The token is the session's credential: only its first characters are shown, to tell sessions apart.
    fields = readonly_fields = [
        "agent",
        "token_prefix",
        *(f.name for f in ClientSession._meta.fields if f.name not in ("id", "agent", "token")),
    ]
    actions = ["close_sessions"]

    @admin.display(description="Token")
    def token_prefix(self, session: ClientSession) -> str:
        return f"{session.token[:6]}…"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Close the selected sessions", permissions=["delete"])
    def close_sessions(self, request, queryset):
        for session in queryset:
            services.session_close(session=session)


@admin.register(AgentStatusEvent)
class AgentStatusEventAdmin(admin.ModelAdmin):
    """The audit trail of availability changes: read-only."""

    list_display = ["created_at", "agent", "to_availability", "reason", "source", "actor"]
    list_filter = ["source", "to_availability", "agent"]
    list_select_related = ["agent", "actor"]
    date_hierarchy = "created_at"
    search_fields = ["agent__extension", "agent__display_name"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens by their first characters; *Revoke* ends one at once. Only a digest is stored, and it is the
    row's key: no page here links to a row or lists its key (no change page, no bulk actions), so even the
    digest stays write-only. Tokens are issued by the API (`POST /api/auth/token/`), the only time one is shown
    whole."""

    list_display = ["token_key", "user", "created", "expiry", "revoke"]
    list_display_links = None
    list_select_related = ["user"]
    search_fields = ["user__username"]
    date_hierarchy = "created"
    actions = None

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        if request.user.is_superuser:
            return tokens
        return tokens.filter(user__is_staff=False, user__is_superuser=False) | tokens.filter(user=request.user)

    def get_urls(self):
        revoke = self.admin_site.admin_view(self.revoke_view)
        return [path("<str:token_key>/revoke/", revoke, name="knox_authtoken_revoke"), *super().get_urls()]

    @admin.display(description="")
    def revoke(self, token: AuthToken) -> str:
        url = reverse("admin:knox_authtoken_revoke", args=[token.token_key])
        return format_html('<a class="button" href="{}">Revoke</a>', url)

    def revoke_view(self, request, token_key: str):
        token = self.get_queryset(request).filter(token_key=token_key).select_related("user").first()
        if token is None or not self.has_delete_permission(request, token):
            raise PermissionDenied
        if request.method == "POST":
            token.delete()
            self.message_user(request, f"Token {token_key}… of {token.user} is revoked.", messages.SUCCESS)
            return redirect("admin:knox_authtoken_changelist")
        context = {**self.admin_site.each_context(request), "title": "Revoke an API token", "token": token}
        return TemplateResponse(request, "admin/knox/authtoken/revoke.html", context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_manage_user(actor=request.user, user=obj.user))
