"""Guessing passwords stops early: an account locks after repeated failures (pages, admin and the token
endpoint count together), an address is limited however many accounts it tries, and the lockout says until when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import get_hasher

from mayday.signin import SignInRateThrottle, WriteRateThrottle
from tests.factories import PASSWORD

LIMIT = settings.MAYDAY_SIGNIN_FAILURES


def page(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def admin(client, username, password):
    return client.post("/admin/login/", {"username": username, "password": password})


def token(client, username, password):
    return client.post(
        "/api/auth/token/", {"username": username, "password": password}, content_type="application/json"
    )


@pytest.mark.parametrize("door", [page, admin, token])
def test_an_account_locks_after_repeated_failures_with_a_clear_message_and_time(client, supervisor, door):
    for n in range(LIMIT - 1):
        assert door(client, "sup", f"wrong-{n}").status_code in (200, 400)
    assert door(client, "sup", "wrong-again").status_code == 429  # the failure that reaches the limit locks
    refused = door(client, "sup", PASSWORD)  # the right password, too late
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > (settings.MAYDAY_SIGNIN_LOCKOUT_MINUTES - 1) * 60
    text = refused.json()["detail"] if door is token else refused.content.decode()
    assert "Too many failed sign-ins for this account" in text
    assert f"Try again in {settings.MAYDAY_SIGNIN_LOCKOUT_MINUTES} minutes (after " in text
    assert "_auth_user_id" not in client.session


def test_the_doors_count_together_and_a_locked_account_costs_no_password_hash(client, supervisor, monkeypatch):
    for n in range(LIMIT):
        (page, admin, token)[n % 3](client, "sup", f"wrong-{n}")
    hashed = []
    hasher = type(get_hasher())
    real = hasher.verify
    monkeypatch.setattr(hasher, "verify", lambda self, *a: hashed.append(1) or real(self, *a))
    assert token(client, "sup", PASSWORD).status_code == 429
    assert page(client, "sup", PASSWORD).status_code == 429
    assert hashed == []


def test_the_lockout_ends_after_its_time(client, supervisor):
    for n in range(LIMIT):
        page(client, "sup", f"wrong-{n}")
    assert page(client, "sup", PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - timedelta(minutes=settings.MAYDAY_SIGNIN_LOCKOUT_MINUTES + 1)
    )
    assert page(client, "sup", PASSWORD).status_code == 302


def test_failures_below_the_limit_are_forgiven_by_a_success(client, supervisor):
    for _ in range(2):
        for n in range(LIMIT - 1):
            page(client, "sup", f"wrong-{n}")
        assert page(client, "sup", PASSWORD).status_code == 302
        client.post("/accounts/logout/")


def _rate(throttle) -> int:
    return int(throttle.THROTTLE_RATES[throttle.scope].split("/")[0])


def test_one_address_is_limited_whatever_accounts_it_tries(client, supervisor):
    for n in range(_rate(SignInRateThrottle)):
        assert page(client, f"user-{n}", "guess").status_code == 200
    assert page(client, "sup", PASSWORD).status_code == 429
    assert token(client, "sup", PASSWORD).status_code == 429
    assert "Too many sign-in attempts from your address" in page(client, "sup", PASSWORD).content.decode()


def test_behind_a_trusted_proxy_each_client_address_counts_apart(client, supervisor, settings):
    import ipaddress

    settings.MAYDAY_TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.0/8")]
    for n in range(_rate(SignInRateThrottle)):
        client.post("/accounts/login/", {"username": f"u{n}", "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert (
        client.post(
            "/accounts/login/", {"username": "sup", "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.7"
        ).status_code
        == 429
    )
    other = client.post(
        "/accounts/login/", {"username": "sup", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.4"
    )
    assert other.status_code == 302


def test_a_forged_forwarded_address_does_not_escape_the_limit(client, supervisor):
    for n in range(_rate(SignInRateThrottle)):
        client.post("/accounts/login/", {"username": f"u{n}", "password": "x"}, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    response = client.post(
        "/accounts/login/", {"username": "sup", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="10.1.1.1"
    )
    assert response.status_code == 429  # no trusted proxy: the connection's address counts


def test_api_writes_are_throttled_per_user_and_reads_are_not(api_as, agent, monkeypatch):
    monkeypatch.setattr(WriteRateThrottle, "THROTTLE_RATES", {"write": "3/min"})
    api = api_as(agent.user)
    codes = [api.post("/api/agents/1005/status/", {"status": "on_break"}, format="json").status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    assert api.get("/api/agents/1005/").status_code == 200
