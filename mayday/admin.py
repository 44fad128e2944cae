"""The supervisors' admin site: call-center wording, sections in working order, no agents."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP
from django.shortcuts import redirect
from django.utils.text import slugify

from mayday.signin import address_refusal

# Sections of the admin index, in the order a supervisor works through them.
SECTIONS = [
    ("Agents and breaks", ["agents.Agent", "agents.PauseReason", "agents.ClientSession", "agents.AgentStatusEvent"]),
    (
        "Phone system",
        [
            "telephony.PbxServer",
            "telephony.Queue",
            "telephony.QueueMembership",
            "telephony.Did",
            "telephony.Trunk",
            "telephony.OutboundRoute",
            "telephony.PrefixRoute",
            "telephony.CallRequest",
        ],
    ),
    ("Calls", ["reporting.QueueCall", "reporting.Cdr"]),
    ("SMS", ["sms.Message", "sms.DeliveryReport", "sms.ProviderSettings"]),
    (
        "Logins and roles",
        ["auth.User", "auth.Group", "knox.AuthToken", "axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog"],
    ),
]


# Credentials nobody reads back, not even one character at a time through a changelist filter
# (`?secret__startswith=a`): lookups on them, directly or across a relation, are refused everywhere.
WRITE_ONLY_FIELDS = {
    "auth.user": {"password"},
    "telephony.pbxserver": {"secret"},
    "agents.clientsession": {"token"},
    "knox.authtoken": {"digest", "token_key"},
    "sms.providersettings": {"password", "auth_header", "webhook_token"},
}


def touches_write_only(model, lookup: str) -> bool:
    """Whether a lookup path (`pbx__secret__regex`) reads a write-only field of any model it crosses."""
    for part in lookup.split(LOOKUP_SEP):
        name = model._meta.pk.name if part == "pk" else part  # `pk` may be a write-only field (knox's digest)
        if name in WRITE_ONLY_FIELDS.get(model._meta.label_lower, ()):
            return True
        part = name
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a transform or lookup (`regex`, `date`): the path ends here
        if not field.is_relation:
            return False
        model = field.related_model
    return False


class WriteOnlyLookups:
    """Mixed into every ModelAdmin the site registers (the contrib ones too)."""

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return not touches_write_only(self.model, lookup) and super().lookup_allowed(lookup, value, request)


class MaydayAdminSite(admin.AdminSite):
    site_header = "Mayday call center"
    site_title = "Mayday"
    index_title = "Run the call center"

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, WriteOnlyLookups):
            admin_class = type(admin_class.__name__, (WriteOnlyLookups, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def login(self, request, extra_context=None):
        # Signed-in agents have no business in the admin: send them to their dashboard.
        if request.user.is_authenticated and not request.user.is_staff:
            return redirect("dashboard")
        return address_refusal(request) or super().login(request, extra_context)

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label:
            return apps
        models = {f"{app['app_label']}.{m['object_name']}": m for app in apps for m in app["models"]}
        sections = []
        for title, names in SECTIONS:
            found = [models.pop(name) for name in names if name in models]
            if found:
                sections.append(_section(title, found))
        if models:
            sections.append(_section("Other", list(models.values())))
        return sections


def _section(title: str, models: list[dict]) -> dict:
    return {"name": title, "app_label": slugify(title), "app_url": "", "has_module_perms": True, "models": models}
