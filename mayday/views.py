"""Project-wide pages: the landing redirect, sign-in and the health check."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache

from agents.selectors import agent_for_user
from agents.services import agent_sign_in, agent_sign_out
from mayday.signin import address_refusal


def landing_url(user) -> str:
    """Each role's own page: agents their dashboard, supervisors the team board, other staff the admin."""
    if hasattr(user, "agent"):
        return resolve_url("dashboard")
    if user.has_perm("agents.view_agent"):
        return resolve_url("team")
    return resolve_url("admin:index" if user.is_staff else "dashboard")


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect(landing_url(request.user))


class LoginView(auth_views.LoginView):
    """Signing in as an agent also makes the agent Available on the PBX.

    The PBX step is a task: sign-in succeeds whatever the PBX does, and the
    dashboard shows the request pending, applied or failed.
    """

    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        return address_refusal(request) or super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        agent = agent_for_user(user=self.request.user)
        if agent is not None:
            agent_sign_in(agent=agent, actor=self.request.user)
        return response

    def get_default_redirect_url(self) -> str:
        return landing_url(self.request.user)


class LogoutView(auth_views.LogoutView):
    """Signing out as an agent also logs the agent out of the queues. A GET (a link, a typed address) asks
    first: signing out takes an agent off the phones."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout_confirm.html")

    def post(self, request, *args, **kwargs):
        agent = agent_for_user(user=request.user)
        if agent is not None:
            agent_sign_out(agent=agent, actor=request.user)
        return super().post(request, *args, **kwargs)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


async def _roundtrip_channel_layer() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("channel layer returned a different message")


def _check_channel_layer() -> str:
    async_to_sync(asyncio.wait_for)(_roundtrip_channel_layer(), timeout=2)
    return "ok"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and channel layer round trips: 200 when both answer, 503 otherwise."""
    checks = {}
    for name, check in (("database", _check_database), ("channel_layer", _check_channel_layer)):
        try:
            checks[name] = check()
        except Exception as exc:  # any failure is the answer, not a crash
            checks[name] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)
