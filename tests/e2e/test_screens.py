"""In Chromium, what agents and supervisors see: the dashboard offers only the other state and keeps the chosen
reason; board tiles take their colour from availability and raise alerts; a dropped connection greys the board
out and says since when; nothing scrolls sideways on a phone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agents.models import Agent, PauseReason
from telephony.simulator.runner import SimulatorThread
from tests.e2e.browser import BrowserTestCase
from tests.factories import PbxServerFactory, UserFactory, agent_on

# Remembers the page's websockets, so a test can drop them as a network would.
KEEP_SOCKETS = """(() => {
  const Native = window.WebSocket;
  window.sockets = [];
  window.WebSocket = function (url, protocols) {
    const ws = new Native(url, protocols);
    window.sockets.push(ws);
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
})();"""
AMBER, GREEN = "rgb(251, 235, 208)", "rgb(216, 243, 226)"


@pytest.mark.timeout(120)
class TestScreens(BrowserTestCase):
    def setUp(self) -> None:
        self.sim = SimulatorThread(ami={"endpoints": ["2001", "2002", "2003"]})
        pbx = PbxServerFactory(kind="asterisk", port=self.sim.sim.ami_port, username="mayday", secret="mayday")
        agent_on(pbx, "2001", availability="logged_out")
        lunch = PauseReason.objects.get(name="Lunch")
        lunch.max_minutes = 1
        lunch.save()
        agent_on(pbx, "2002", availability="on_break", reason="Lunch")
        Agent.objects.filter(extension="2002").update(status_since=timezone.now() - timedelta(minutes=2))
        agent_on(pbx, "2003", availability="available")  # no phone registered: offline
        UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.sim.close()

    def sign_in(self, username: str, viewport: dict | None = None, init_script: str = KEEP_SOCKETS):
        return super().sign_in(username, viewport, init_script)

    def test_the_dashboard_offers_only_the_other_state_and_keeps_the_reason(self) -> None:
        agent = self.sign_in("2001")
        expect(agent.locator("#availability")).to_have_text("Available")
        expect(agent.locator("#sync")).to_have_text("Confirmed by the phone system.")
        expect(agent.locator("#go-form")).to_be_hidden()  # already available: not offered
        expect(agent.locator("#break-button")).to_have_text("Take a break")
        agent.select_option("#reason", "Training")
        agent.click("#break-button")
        expect(agent.locator("#availability")).to_have_text("On break · Training")
        expect(agent.locator("#go-form")).to_be_visible()
        expect(agent.locator("#reason")).to_have_value("Training")  # the reason chosen stays chosen
        expect(agent.locator("#break-button")).to_be_disabled()  # not the break the agent is on
        expect(agent.locator("#break-button")).to_have_text("Change reason")
        agent.select_option("#reason", "Meeting")
        expect(agent.locator("#break-button")).to_be_enabled()

    def test_tiles_take_their_colour_from_availability_and_raise_alerts(self) -> None:
        boss = self.sign_in("boss")
        expect(boss).to_have_url(re.compile(r"/team/$"))
        on_break, available = boss.locator('.tile[data-extension="2002"]'), boss.locator('.tile[data-extension="2003"]')
        expect(on_break).to_have_css("background-color", AMBER)  # whatever the presence
        expect(available).to_have_css("background-color", GREEN)
        expect(on_break.locator(".presence")).to_have_text("Offline")
        expect(on_break.locator(".alert-line")).to_have_text("break over 1 min")
        expect(available.locator(".alert-line")).to_have_text("available but unreachable")
        expect(boss.locator("#count-alerts")).to_have_text("2")
        expect(boss.locator("#alerts")).to_contain_text("break over 1 min")
        boss.select_option("#filter-status", "alert")
        expect(boss.locator("#shown")).to_have_text("2")
        expect(boss.locator("#count-available")).to_have_text("1")  # the counts stay the whole team's

    def test_a_dropped_connection_greys_the_board_and_says_since_when(self) -> None:
        boss = self.sign_in("boss")
        expect(boss.locator("#live")).to_have_text("live")
        boss.evaluate("window.sockets.forEach((ws) => ws.close())")
        expect(boss.locator("body")).to_have_class(re.compile(r"\bstale\b"))
        expect(boss.locator("#live")).to_have_text(re.compile(r"^not live, reconnecting since \d\d:\d\d$"))
        expect(boss.locator("#live")).to_have_text("live", timeout=10_000)  # back by itself
        expect(boss.locator("body")).not_to_have_class(re.compile(r"\bstale\b"))

    def test_nothing_scrolls_sideways_on_a_phone(self) -> None:
        phone = {"width": 390, "height": 844}
        for user, path in (("2001", "/dashboard/"), ("boss", "/team/")):
            page = self.sign_in(user, phone)
            expect(page).to_have_url(re.compile(path + "$"))
            page.wait_for_load_state("networkidle")
            assert page.evaluate("document.documentElement.scrollWidth") <= phone["width"], path
