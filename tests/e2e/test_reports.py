"""In Chromium: a supervisor's wallboard counts a caller the moment the PBX tells the server of it, without
reloading, and the longest wait counts up; the report page draws its charts with nothing refused by the
Content-Security-Policy; neither page scrolls sideways on a phone. Screenshots go to /tmp/shots/."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reporting.models import Outcome, QueueCall
from telephony.models import ConnectionState, PbxServer
from telephony.pbx import listener
from telephony.simulator.runner import SimulatorThread
from tests.e2e.browser import LAPTOP, BrowserTestCase, ForkedServer
from tests.factories import PbxServerFactory, QueueFactory, UserFactory, agent_on
from tests.waiting import wait_for

SHOTS = Path("/tmp/shots")
PHONE = {"width": 390, "height": 844}


class ServerFollowingThePbx(ForkedServer):
    """The live server follows the enabled PBXs in its own process, as `manage.py serve` does with the in-memory
    channel layer: what the PBX tells it is recorded there and reaches its websockets."""

    def run(self) -> None:
        setup = self.setup

        def follow() -> None:
            if setup is not None:
                setup()
            self.following = asyncio.get_event_loop().create_task(listener.listen())

        self.setup = follow
        super().run()


class Watching(BrowserTestCase):
    def setUp(self) -> None:
        self.sim = SimulatorThread(ami={"endpoints": ["2001", "2002"]})
        self.pbx = PbxServerFactory(
            name="ast", kind="asterisk", port=self.sim.sim.ami_port, username="mayday", secret="mayday"
        )
        self.queue = QueueFactory(name="support", pbx=self.pbx, service_level_seconds=20)
        QueueFactory(name="sales", pbx=self.pbx)
        self.agent = agent_on(self.pbx, "2001", availability="available", queues=("support", "sales"))
        agent_on(self.pbx, "2002", availability="on_break", reason="Lunch", queues=("support",))
        UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
        self.refused: list[str] = []
        SHOTS.mkdir(exist_ok=True)
        self.arrange()
        super().setUp()

    def arrange(self) -> None:
        """What the test needs in the database, before the browser starts (its loop forbids the ORM here)."""

    def tearDown(self) -> None:
        super().tearDown()
        self.sim.close()

    def sign_in(self, username: str, viewport: dict | None = None, init_script: str = ""):
        """Signed in, and listening for whatever the browser refuses or fails at from here on."""
        page = super().sign_in(username, viewport, init_script)
        page.on("console", lambda m: m.type == "error" and self.refused.append(f"{page.url}: {m.text[:120]}"))
        page.on("pageerror", lambda e: self.refused.append(f"script error: {e}"))
        return page

    def no_sideways_scroll(self, page, width: int) -> None:
        assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


@pytest.mark.timeout(120)
class TestWallboardIsLive(Watching):
    ProtocolServerProcess = ServerFollowingThePbx

    def arrange(self) -> None:
        wait_for(
            lambda: PbxServer.objects.get(pk=self.pbx.pk).state == ConnectionState.CONNECTED,
            timeout=20,
            what="the server to follow the PBX",
        )

    def test_a_caller_appears_on_the_wallboard_and_the_wait_counts_up(self) -> None:
        boss = self.sign_in("boss")
        boss.goto(f"{self.live_server_url}/wallboard/")
        expect(boss.locator("#live")).to_have_text("live")
        tile = boss.locator(f'.queue-tile[data-queue="{self.queue.pk}"]')
        expect(tile.locator("h2")).to_have_text("support (ast)")
        expect(tile.locator(".waiting strong")).to_have_text("0")
        expect(tile.locator(".av-available strong")).to_have_text("1")
        expect(tile.locator(".av-on_break strong")).to_have_text("1")
        boss.evaluate("window.sameDocument = true")  # gone if the page reloads

        self.sim.run(
            self.sim.sim.ami.emit,
            "QueueCallerJoin",
            "agent,all",
            [
                ("Channel", "PJSIP/trunk-00000001"),
                ("CallerIDNum", "0712345678"),
                ("CallerIDName", "Customer"),
                ("Uniqueid", "1741000000.1"),
                ("Queue", "support"),
                ("Position", "1"),
                ("Count", "1"),
            ],
        )
        expect(tile.locator(".waiting strong")).to_have_text("1", timeout=10_000)
        expect(tile).to_have_class(re.compile(r"\bhas-waiting\b"))
        longest = tile.locator(".longest strong")
        expect(longest).to_have_text(re.compile(r"^0:0[0-9]$"))
        first = longest.text_content()
        expect(longest).not_to_have_text(first, timeout=3_000)  # counts up by itself, every second
        assert boss.evaluate("window.sameDocument") is True
        boss.screenshot(path=str(SHOTS / "wallboard-laptop.png"), full_page=True)

        phone = self.sign_in("boss", PHONE)
        phone.goto(f"{self.live_server_url}/wallboard/")
        expect(phone.locator("#live")).to_have_text("live")
        expect(phone.locator(f'.queue-tile[data-queue="{self.queue.pk}"] .waiting strong')).to_have_text("1")
        phone.wait_for_load_state("networkidle")
        self.no_sideways_scroll(phone, PHONE["width"])
        phone.screenshot(path=str(SHOTS / "wallboard-phone.png"), full_page=True)
        assert self.refused == [], "\n".join(self.refused)


@pytest.mark.timeout(120)
class TestReportPage(Watching):
    def arrange(self) -> None:
        self.start = start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        outcomes = [Outcome.ANSWERED] * 6 + [Outcome.ABANDONED, Outcome.TIMED_OUT]
        for n in range(48):
            QueueCall.objects.create(
                pbx=self.pbx,
                queue=self.queue,
                queue_name="support",
                call_id=f"1741000000.{n}",
                entered_at=start - timedelta(days=n % 5) + timedelta(hours=8 + n % 9, minutes=n),
                outcome=outcomes[n % len(outcomes)],
                wait_seconds=5 + 7 * (n % 6),
                talk_seconds=60 + 20 * n if outcomes[n % len(outcomes)] == Outcome.ANSWERED else None,
                agent=self.agent if outcomes[n % len(outcomes)] == Outcome.ANSWERED else None,
            )

    def test_the_charts_render_within_the_policy(self) -> None:
        today = self.start.date()
        periods = {
            "week": f"period=custom&from={today - timedelta(days=6)}&to={today}",
            "today": "period=today",
            "days": f"period=custom&from={today - timedelta(days=4)}&to={today - timedelta(days=2)}",  # + its month
        }
        for viewport, device in ((LAPTOP, "laptop"), (PHONE, "phone")):
            boss = self.sign_in("boss", viewport)
            for name, query in periods.items():
                response = boss.goto(f"{self.live_server_url}/reports/?{query}")
                assert response.status == 200
                assert "unsafe-inline" not in response.headers["content-security-policy"]
                charts = boss.locator("svg.chart-svg")
                expect(charts.first).to_be_visible()
                assert charts.count() >= 2
                expect(boss.locator("#queue-figures tfoot th")).to_have_text("Total")
                boss.wait_for_load_state("networkidle")
                self.no_sideways_scroll(boss, viewport["width"])
                boss.screenshot(path=str(SHOTS / f"reports-{name}-{device}.png"), full_page=True)
                boss.locator(".charts").screenshot(path=str(SHOTS / f"charts-{name}-{device}.png"))
            agent = self.sign_in("2001", viewport)
            expect(agent.locator("#today dd").first).to_have_text(re.compile(r"^[1-9]\d*$"))  # calls answered today
            self.no_sideways_scroll(agent, viewport["width"])
            agent.screenshot(path=str(SHOTS / f"dashboard-{device}.png"), full_page=True)
        assert self.refused == [], "\n".join(self.refused)
