"""Every page and API answer carries the Content-Security-Policy and is never stored by a cache; the templates
hold no inline script, style or event handler the policy would have to allow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

PAGES = ["/accounts/login/", "/dashboard/", "/team/", "/admin/", "/admin/agents/agent/", "/api/", "/api/agents/"]
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I
)


@pytest.mark.parametrize("role", ["anonymous", "agent", "supervisor"])
def test_every_page_has_the_policy_and_no_store(client, agent, supervisor, role):
    if role != "anonymous":
        client.force_login(agent.user if role == "agent" else supervisor)
    for path in PAGES:
        response = client.get(path)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, path
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy, path
        assert "no-store" in response["Cache-Control"], (path, response.status_code)


def test_api_answers_with_personal_data_are_not_stored(api_as, agent):
    for path in ("/api/agents/", "/api/agents/1005/status/", "/api/sessions/", "/api/auth/tokens/"):
        response = api_as(agent.user).get(path)
        assert response.status_code == 200 and "no-store" in response["Cache-Control"], path


def test_static_files_may_be_cached(client):
    assert "no-store" not in client.get("/static/css/mayday.css").get("Cache-Control", "")


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(settings.BASE_DIR) for p in (settings.BASE_DIR / "templates").rglob("*.html"))
)
def test_templates_hold_no_inline_code(template: Path):
    assert not INLINE.findall((settings.BASE_DIR / template).read_text())
