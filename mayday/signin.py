"""Sign-in protection, for the pages, the admin and the token endpoint alike.

Two limits: an account is locked for MAYDAY_SIGNIN_LOCKOUT_MINUTES after
MAYDAY_SIGNIN_FAILURES wrong passwords in a row (django-axes, counted per
account whatever the address, so a guesser gets a handful of tries an hour),
and one client address may try MAYDAY_SIGNIN_RATE times (a DRF throttle in
the cache, counting every try, so a few connections cannot keep the CPUs
busy with password hashing). A locked account is refused before its
password is hashed. Behind MAYDAY_TRUSTED_PROXIES the address is the real
client's. Other API writes are throttled per user (MAYDAY_API_WRITE_RATE).
"""

from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from mayday.api import client_ip


def client_address(request) -> str:
    """The address sign-in limits count against (the connection's when only proxies are known)."""
    return client_ip(request) or request.META.get("REMOTE_ADDR", "") or "unknown"


class SignInRateThrottle(SimpleRateThrottle):
    """Every sign-in try, per client address."""

    scope = "signin"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class WriteRateThrottle(SimpleRateThrottle):
    """API writes (anything but GET, HEAD, OPTIONS), per user or, for anonymous callers, per address."""

    scope = "write"

    def get_cache_key(self, request, view) -> str | None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        ident = request.user.pk if request.user.is_authenticated else client_address(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _minutes(seconds: float) -> str:
    minutes = max(math.ceil(seconds / 60), 1)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def too_many(request: HttpRequest, *, seconds: float, why: str) -> HttpResponse:
    """429 with when to try again: JSON for the API, the sign-in page for people."""
    until = timezone.localtime(timezone.now() + timezone.timedelta(seconds=seconds))
    message = f"{why} Try again in {_minutes(seconds)} (after {until:%H:%M})."
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "retry_after_seconds": math.ceil(seconds)}, status=429)
    else:
        response = render(request, "registration/too_many.html", {"message": message}, status=429)
    response["Retry-After"] = str(math.ceil(seconds))
    return response


def address_refusal(request: HttpRequest) -> HttpResponse | None:
    """For sign-in pages: a 429 when this address has tried too often, else None (the try is counted)."""
    throttle = SignInRateThrottle()
    if request.method == "POST" and not throttle.allow_request(request, None):
        return too_many(request, seconds=throttle.wait() or 60, why="Too many sign-in attempts from your address.")
    return None


def locked_out(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE): the account waits out its lockout."""
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt

    username = (getattr(request, "axes_credentials", None) or {}).get("username") or request.POST.get("username")
    last = AccessAttempt.objects.filter(username=username).order_by("-attempt_time").first()
    cool_off = get_cool_off(request)
    seconds = cool_off.total_seconds()
    if last is not None:
        seconds = max((last.attempt_time + cool_off - timezone.now()).total_seconds(), 1)
    return too_many(request, seconds=seconds, why="Too many failed sign-ins for this account.")
