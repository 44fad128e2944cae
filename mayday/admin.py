"""The supervisors' admin site: call-center wording, sections in working order, no agents."""

from __future__ import annotations

from django.contrib import admin
from django.shortcuts import redirect
from django.utils.text import slugify

# Sections of the admin index, in the order a supervisor works through them.
SECTIONS = [
    ("Agents and breaks", ["agents.Agent", "agents.PauseReason", "agents.ClientSession", "agents.AgentStatusEvent"]),
    ("Phone system", ["telephony.PbxServer", "telephony.Queue", "telephony.QueueMembership", "telephony.Did"]),
    ("Logins and roles", ["auth.User", "auth.Group", "authtoken.TokenProxy"]),
]


class MaydayAdminSite(admin.AdminSite):
    site_header = "Mayday call center"
    site_title = "Mayday"
    index_title = "Run the call center"

    def login(self, request, extra_context=None):
        # Signed-in agents have no business in the admin: send them to their dashboard.
        if request.user.is_authenticated and not request.user.is_staff:
            return redirect("dashboard")
        return super().login(request, extra_context)

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
