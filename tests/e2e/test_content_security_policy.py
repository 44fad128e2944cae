"""In Chromium, every page of Mayday's own and the admin's works under the Content-Security-Policy: nothing
is refused (no inline script or style, nothing from another origin), and the live board still connects.
DRF's browsable API pages alone allow inline styles (its templates are full of them); never scripts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from telephony.simulator.runner import SimulatorThread
from tests.e2e.browser import BrowserTestCase
from tests.factories import PbxServerFactory, UserFactory, agent_on

SUPERVISOR_PAGES = [
    "/team/",
    "/accounts/logout/",
    "/admin/",
    "/admin/agents/agent/",
    "/admin/agents/agent/add/",
    "/admin/agents/pausereason/",
    "/admin/telephony/pbxserver/",
    "/admin/telephony/queue/",
    "/admin/knox/authtoken/",
    "/admin/telephony/did/",
    "/admin/telephony/outboundroute/add/",
    "/sms/",
    "/admin/sms/message/",
    "/admin/sms/providersettings/",
    "/api/",
    "/api/agents/",
    "/api/docs/",
    "/api/redoc/",
]
BROWSABLE = {"/api/", "/api/agents/", "/api/redoc/"}  # allowed inline styles (never scripts)


@pytest.mark.timeout(120)
class TestPagesKeepThePolicy(BrowserTestCase):
    def setUp(self) -> None:
        self.sim = SimulatorThread(ami={"endpoints": ["2001"]})
        pbx = PbxServerFactory(kind="asterisk", port=self.sim.sim.ami_port, username="mayday", secret="mayday")
        self.agent = agent_on(pbx, "2001", availability="logged_out")
        UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
        self.refused: list[str] = []
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.sim.close()

    def sign_in(self, username: str, viewport: dict | None = None, init_script: str = ""):
        """Signed in, and listening for whatever the browser refuses from here on."""
        page = super().sign_in(username, viewport, init_script)
        page.context.on(
            "console",
            lambda m: (
                "Content Security Policy" in m.text and self.refused.append(f"{m.page and m.page.url}: {m.text[:90]}")
            ),
        )
        page.on("pageerror", lambda e: self.refused.append(f"script error: {e}"))
        return page

    def test_no_page_needs_anything_the_policy_refuses(self) -> None:
        agent = self.sign_in("2001")
        expect(agent).to_have_url(re.compile(r"/dashboard/$"))
        expect(agent.locator("#live")).to_have_text("live")
        boss = self.sign_in("boss")
        expect(boss).to_have_url(re.compile(r"/team/$"))
        for path in SUPERVISOR_PAGES:
            response = boss.goto(f"{self.live_server_url}{path}")
            assert response.status == 200, path
            policy = response.headers["content-security-policy"]
            assert "script-src 'self';" in policy + ";", path
            assert path in BROWSABLE or "unsafe-inline" not in policy, path
            boss.wait_for_load_state("networkidle")
        for docs in ("/api/docs/", "/api/redoc/"):  # the documentation tools work, not only load
            boss.goto(f"{self.live_server_url}{docs}")
            expect(boss.get_by_text("/api/agents/{extension}/status/").first).to_be_visible(timeout=10_000)
        boss.goto(f"{self.live_server_url}/team/")
        expect(boss.locator("#live")).to_have_text("live")  # the websocket is allowed ('self')
        # Redoc shows its maker's logo from a CDN: the policy refuses it, so the browser never asks the CDN.
        refused = [r for r in self.refused if "Loading the image 'https://cdn.redoc.ly/" not in r]
        assert refused == [], "\n".join(refused)
