"""What every browser test shares: a live server forked from the test process, Debian's Chromium driven by
Playwright, the roles the data migration seeds, and signing in through the page as a person does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from channels.layers import channel_layers
from channels.testing import ChannelsLiveServerTestCase
from daphne.testing import DaphneProcess
from daphne.ws_protocol import WebSocketFactory
from django.conf import settings
from django.db import connections
from playwright.sync_api import sync_playwright

from mayday.server import PromptWebSocketProtocol
from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAPTOP = {"width": 1366, "height": 768}


class ForkedServer(DaphneProcess):
    """The server process is forked from this one, without its threads: it must open its own database
    connection (not share our socket), get a fresh channel layer (not one whose queues belong to an earlier
    test's event loop) and a fresh executor for database calls (the old one's thread does not exist there).
    The database NAME already is the test database; channels would prefix it with test_ once more.
    Its websockets write as `manage.py serve`'s do (mayday.server)."""

    def start(self) -> None:
        database = settings.DATABASES["default"]
        database["TEST"]["NAME"] = database["NAME"]
        connections.close_all()
        channel_layers.backends.clear()
        SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
        super().start()

    def run(self) -> None:  # in the forked process
        WebSocketFactory.protocol = PromptWebSocketProtocol
        super().run()


class LiveServerTestCase(ChannelsLiveServerTestCase):
    """A live server (daphne, forked) for what a real client reaches over the network."""

    serialized_rollback = True  # the roles come from a data migration

    ProtocolServerProcess = ForkedServer


class BrowserTestCase(LiveServerTestCase):
    def setUp(self) -> None:
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)

    def tearDown(self) -> None:
        self.browser.close()
        self.playwright.stop()

    def sign_in(self, username: str, viewport: dict | None = None, init_script: str = ""):
        """A page signed in as this user, in a browser context of its own (a person's own browser)."""
        context = self.browser.new_context(viewport=viewport or LAPTOP)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.goto(f"{self.live_server_url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        return page
