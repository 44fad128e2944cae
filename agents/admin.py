"""Supervisors manage agents here: one form creates (or links) the sign-in user and the agent."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db.models import Count

from agents.models import Agent, PauseReason
from telephony.models import QueueMembership

User = get_user_model()
AGENTS_GROUP = "Agents"


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
        fields = ["username", "password", "extension", "display_name", "pbx"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["username"].initial = self.instance.user.username

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        self.existing_user = User.objects.filter(username=username).first()
        owner = Agent.objects.filter(user=self.existing_user).exclude(pk=self.instance.pk).first()
        if owner:
            raise forms.ValidationError(f"User {username} is already agent {owner.extension}.")
        return username

    def clean(self) -> dict:
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
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


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentAdminForm
    list_display = [
        "extension",
        "display_name",
        "username",
        "pbx",
        "availability",
        "pause_reason",
        "sync_state",
        "sync_error",
        "queue_count",
    ]
    list_select_related = ["user", "pbx", "pause_reason"]
    list_filter = ["availability", "sync_state", "pbx", "memberships__queue"]
    readonly_fields = ["sync_state", "sync_error", "pbx_status", "pbx_state"]
    search_fields = ["extension", "display_name", "user__username"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(queue_count=Count("memberships"))

    @admin.display(ordering="user__username", description="Sign-in name")
    def username(self, agent: Agent) -> str:
        return agent.user.username

    @admin.display(ordering="queue_count", description="Queues")
    def queue_count(self, agent: Agent) -> int:
        return agent.queue_count


@admin.register(PauseReason)
class PauseReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "display_order"]
    list_editable = ["active", "display_order"]
    list_filter = ["active"]
    search_fields = ["name"]
