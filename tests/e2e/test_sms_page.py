"""In Chromium, the SMS pages: the send box counts segments as one types, exactly as the server does; a reply and
a delivery report posted by the provider show on the open pages without reloading; a message sent from the form
shows with its outcome; nothing scrolls sideways on a phone and nothing is refused by the Content-Security-Policy.
Screenshots go to /tmp/sms-shots/."""

from __future__ import annotations

import random
import re
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from sms.models import Direction, Message, Status
from sms.segments import GSM_BASIC, GSM_EXTENSION, count
from telephony.simulator.runner import SimulatorThread
from tests.e2e.browser import LAPTOP, BrowserTestCase
from tests.factories import PbxServerFactory, UserFactory, agent_on

TOKEN = "hook-token-for-the-browser-test"
ANNA, BEN, CLEO = "+256700771301", "+256700771302", "+256700771303"
PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp/sms-shots")
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


def samples() -> list[str]:
    """Texts at every edge of the counting rules, and random mixes of both alphabets, other letters and emoji."""
    fixed = [
        "",
        "a" * 160,
        "a" * 161,
        "€" * 80,
        "€" * 81,
        "a" * 152 + "€" + "a" * 152,
        "a" * 151 + "€" + "a" * 153,
        "".join(sorted(GSM_BASIC | GSM_EXTENSION)),
        "ç" * 71,
        "😀" * 35,
        "😀" * 36,
        "a" * 66 + "😀" + "a" * 10,
        "line one\nline two\r\n",
    ]
    rng = random.Random(7)
    letters = [*sorted(GSM_BASIC), *sorted(GSM_EXTENSION), "ç", "ñ", "ş", "Ж", "😀", "👍🏽", "\u200b"]
    mixes = ["".join(rng.choice(letters) for _ in range(rng.randint(50, 400))) for _ in range(40)]
    gsm = sorted(GSM_BASIC | GSM_EXTENSION)
    gsm_only = ["".join(rng.choice(gsm) for _ in range(rng.randint(150, 500))) for _ in range(10)]
    return fixed + mixes + gsm_only


@pytest.mark.timeout(120)
@override_settings(MAYDAY_SMS_WEBHOOK_TOKEN=TOKEN)  # before the server process starts: it inherits it
class TestSmsPages(BrowserTestCase):
    def setUp(self) -> None:
        self.sim = SimulatorThread(ami={"endpoints": ["2001"]})
        pbx = PbxServerFactory(kind="asterisk", port=self.sim.sim.ami_port, username="mayday", secret="mayday")
        agent = agent_on(pbx, "2001", availability="logged_out")
        UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
        now = timezone.now()
        for minutes, customer, who, content, status, provider_id in [
            (50, BEN, agent, "Your parcel left the depot this morning.", Status.DELIVERED, "mt-0"),
            (40, BEN, None, "Thanks! Will it come before noon? https://example.com/track/4411223344556677", "", "mo-0"),
            (35, BEN, agent, "The driver is at your gate.", Status.UNDELIVERED, "mt-2"),
            (30, BEN, agent, "Please call us back on 0323 300245.", Status.QUEUED, None),
            (20, ANNA, agent, "Hello Anna, your table for four is booked for 19:30 tonight.", Status.SENT, "mt-1"),
        ]:
            message = Message.objects.create(
                direction=Direction.OUTBOUND if who else Direction.INBOUND,
                customer=customer,
                content=content,
                status=status or Status.RECEIVED,
                agent=who,
                provider_id=provider_id,
                error="Not delivered: EXPIRED" if status == Status.UNDELIVERED else "",
            )
            Message.objects.filter(pk=message.pk).update(created_at=now - timedelta(minutes=minutes))
        self.refused: list[str] = []
        SHOTS.mkdir(exist_ok=True)
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.sim.close()
        assert self.refused == [], "\n".join(self.refused)

    def sign_in(self, username: str, viewport: dict | None = None, init_script: str = ""):
        """Signed in, and listening for whatever the browser refuses or fails at from here on."""
        page = super().sign_in(username, viewport, init_script)
        page.context.on(
            "console", lambda m: "Content Security Policy" in m.text and self.refused.append(f"{m.page.url}: {m.text}")
        )
        page.on("pageerror", lambda e: self.refused.append(f"script error: {e}"))
        page.wait_for_url(re.compile(r"/(dashboard|team)/$"))
        return page

    def post(self, path: str, fields: dict) -> None:
        response = httpx.post(f"{self.live_server_url}{path}?token={TOKEN}", data=fields)
        assert response.text == "ACK/Jasmin", response.text

    def test_the_send_box_counts_segments_as_the_server_does(self) -> None:
        page = self.sign_in("2001")
        page.goto(f"{self.live_server_url}/sms/{ANNA}/")
        shown = page.locator("#count")
        expect(shown).to_have_text("0 SMS, 160 characters left, GSM-7")
        page.fill("#content", "a" * 160)
        expect(shown).to_have_text("1 SMS, 0 characters left, GSM-7")
        page.locator("#content").press_sequentially("a")
        expect(shown).to_have_text("2 SMS, 145 characters left, GSM-7")
        page.locator("#content").press_sequentially("😀")
        expected = count("a" * 161 + "😀")
        assert expected.encoding == "UCS-2"
        expect(shown).to_have_text(f"{expected.segments} SMS, {expected.remaining} characters left, UCS-2")
        texts = samples()
        counted = page.evaluate("(texts) => texts.map((t) => maydaySmsCount(t))", texts)
        for text, got in zip(texts, counted, strict=True):
            assert got == asdict(count(text)), text

    def test_a_reply_and_a_delivery_report_show_on_the_open_pages(self) -> None:
        agent = self.sign_in("2001")
        agent.goto(f"{self.live_server_url}/sms/{ANNA}/")
        expect(agent.locator("#live")).to_have_text("live")
        agent.evaluate("window.sameDocument = true")  # gone if the page reloads
        boss = self.sign_in("boss")
        boss.goto(f"{self.live_server_url}/sms/")
        expect(boss.locator("#live")).to_have_text("live")
        boss.evaluate("window.sameDocument = true")

        self.post("/api/sms/inbound", {"id": "mo-1", "from": "0700771301", "to": "Mayday", "content": "See you!"})
        reply = agent.locator("#thread .bubble").last
        expect(reply).to_have_class(re.compile(r"\btheirs\b"))
        expect(reply.locator(".text")).to_have_text("See you!")
        expect(reply.locator("time")).to_have_text(re.compile(r"^\d{1,2} [A-Z][a-z]{2}, \d\d:\d\d$"))
        expect(agent.locator("#conversations .convo").first.locator(".convo-last")).to_have_text("See you!")
        expect(boss.locator("#conversations .convo").first).to_have_attribute("data-customer", ANNA)

        ours = agent.locator("#thread .bubble.ours .tick")
        expect(ours).to_have_text("✓")
        self.post("/api/sms/dlr", {"id": "mt-1", "level": "2", "message_status": "DELIVRD"})
        expect(ours).to_have_text("✓✓")
        expect(ours).to_have_attribute("aria-label", "Delivered")

        self.post("/api/sms/inbound", {"id": "mo-2", "from": CLEO, "to": "Mayday", "content": "Who is this?"})
        expect(boss.locator("#conversations .convo").first).to_have_attribute("data-customer", CLEO)
        expect(boss.locator("#conversations .convo")).to_have_count(3)
        expect(agent.locator("#conversations .convo")).to_have_count(2)  # not one of the agent's conversations
        assert agent.evaluate("window.sameDocument") is True and boss.evaluate("window.sameDocument") is True

    def test_what_came_while_the_connection_was_down_shows_once_it_is_back(self) -> None:
        page = self.sign_in("2001", init_script=KEEP_SOCKETS)
        page.goto(f"{self.live_server_url}/sms/{ANNA}/")
        expect(page.locator("#live")).to_have_text("live")
        page.evaluate("window.sameDocument = true")
        page.evaluate("window.sockets.forEach((ws) => ws.close())")
        expect(page.locator("#live")).to_have_text(re.compile(r"^not live, reconnecting since \d\d:\d\d$"))
        self.post("/api/sms/inbound", {"id": "mo-9", "from": ANNA, "to": "Mayday", "content": "Are you there?"})
        expect(page.locator("#live")).to_have_text("live", timeout=10_000)
        expect(page.locator("#thread .bubble").last.locator(".text")).to_have_text("Are you there?")
        expect(page.locator("#conversations .convo").first.locator(".convo-last")).to_have_text("Are you there?")
        assert page.evaluate("window.sameDocument") is True

    def test_a_message_sent_from_the_form_shows_with_its_outcome(self) -> None:
        page = self.sign_in("2001")
        page.goto(f"{self.live_server_url}/sms/{ANNA}/")
        page.fill("#content", "We have a table by the window too.")
        page.click("button.send")
        sent = page.locator("#thread .bubble.ours").last
        expect(sent.locator(".text")).to_have_text("We have a table by the window too.")
        expect(sent.locator(".tick")).to_have_text("✗")  # no provider is configured here
        expect(sent.locator(".sms-error")).to_contain_text("No SMS provider is configured")
        expect(page.locator("#content")).to_have_value("")
        expect(page.locator("#thread .bubble.ours")).to_have_count(2)

    def test_nothing_scrolls_sideways_on_a_phone_and_the_screens_look_right(self) -> None:
        for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
            for user in ("2001", "boss"):
                page = self.sign_in(user, viewport)
                for path, shot in (("/sms/", "inbox"), (f"/sms/{BEN}/", "thread")):
                    page.goto(f"{self.live_server_url}{path}")
                    expect(page.locator("#live")).to_have_text("live")
                    if shot == "thread":
                        page.fill("#content", "Yes, before noon. " * 10)
                    width = page.evaluate("document.documentElement.scrollWidth")
                    assert width <= viewport["width"], (user, path, width)
                    page.screenshot(path=str(SHOTS / f"{shot}-{user}-{name}.png"), full_page=True)
                page.context.close()
