"""In Chromium: an agent signs in and is Available; a supervisor's team board and the admin's agent list,
open in another browser context, show the agent's break the moment it is taken, without reloading."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from telephony.simulator.runner import SimulatorThread
from tests.e2e.browser import BrowserTestCase
from tests.factories import PbxServerFactory, UserFactory, agent_on, ami_state


@pytest.mark.timeout(90)
class TestBoardIsLive(BrowserTestCase):
    def setUp(self) -> None:
        self.sim = SimulatorThread(ami={"endpoints": ["2001"]})
        pbx = PbxServerFactory(kind="asterisk", port=self.sim.sim.ami_port, username="mayday", secret="mayday")
        self.agent = agent_on(pbx, "2001", availability="logged_out")
        UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.sim.close()

    def test_agent_signs_in_and_the_supervisor_sees_the_break_live(self) -> None:
        agent = self.sign_in("2001")
        expect(agent).to_have_url(re.compile(r"/dashboard/$"))
        expect(agent.locator("#availability")).to_have_text("Available")
        expect(agent.locator("#sync")).to_have_text("Confirmed by the phone system.")
        expect(agent.locator("#live")).to_have_text("live")
        assert ami_state(self.sim, "2001") == {"support": (False, ""), "sales": (False, "")}

        boss = self.sign_in("boss")
        expect(boss).to_have_url(re.compile(r"/team/$"))  # a supervisor lands on the board
        tile = boss.locator('.tile[data-extension="2001"]')
        expect(tile.locator(".state")).to_have_text("Available")
        expect(boss.locator("#live")).to_have_text("live")
        boss.evaluate("window.sameDocument = true")  # gone if the page reloads

        agent.select_option("#reason", "Lunch")
        agent.click("button.pause")
        expect(agent.locator("#availability")).to_have_text("On break · Lunch")
        expect(tile.locator(".state")).to_have_text("On break · Lunch")
        expect(tile).to_have_class(re.compile(r"\bav-on_break\b"))
        expect(boss.locator("#count-on_break")).to_have_text("1")
        assert boss.evaluate("window.sameDocument") is True
        assert ami_state(self.sim, "2001") == {"support": (True, "Lunch"), "sales": (True, "Lunch")}

        admin = boss.context.new_page()  # the admin's agent list follows too
        admin.goto(f"{self.live_server_url}/admin/agents/agent/")
        cell = admin.locator('[data-agent="2001"][data-live="availability"]')
        expect(cell).to_have_text("On break · Lunch")
        admin.evaluate("window.sameDocument = true")

        boss.select_option("#filter-status", "available")  # the filter hides the agent on break
        expect(tile).to_be_hidden()
        agent.click("button.go")
        expect(tile).to_be_visible()
        expect(cell).to_have_text("Available")
        assert admin.evaluate("window.sameDocument") is True
