"""Shared personas (an agent, a supervisor, an administrator, an outsider with no role) and the PBX simulator as a
real peer on loopback, with PbxServer rows pointing at it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from telephony import tasks
from telephony.simulator.runner import SimulatorThread
from tests.factories import PASSWORD, AgentFactory, PbxServerFactory, UserFactory

pytest_plugins = ["tests.jasmin"]  # the fake SMS provider: `jasmin`, `jasmin_tls`


def pytest_configure(config):
    """Passwords are hashed with a fast hasher in tests, so tests that try many can run (the real cost is
    measured in bench/status.py); set before any test server process is forked, so it agrees."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Every test starts with a new channel layer, as a new process would: each test has an event loop of its own,
    and a Redis layer keeps locks that a receive left taken on an earlier test's loop, never to be released."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Sign-in and write limits are counted in the cache: every test starts with none used."""
    cache.clear()


class InThisThread:
    """Inline PBX commands run in the test's own thread, inside its transaction: a lane thread could not
    see the test's uncommitted rows. Tests marked `real_lanes` use the lanes, as `manage.py serve` does."""

    def submit(self, key: str, fn, *args) -> None:
        fn(*args)


@pytest.fixture(autouse=True)
def _commands_in_this_thread(request, monkeypatch):
    if "real_lanes" not in request.keywords:
        monkeypatch.setattr(tasks, "LANES", InThisThread())


@pytest.fixture
def pbx(db):
    return PbxServerFactory()


@pytest.fixture
def agent(pbx):
    return AgentFactory(extension="1005", pbx=pbx)


@pytest.fixture
def supervisor(db):
    return UserFactory(username="sup", is_staff=True, groups=["Supervisors"])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(db):
    return UserFactory(username="nobody")


@pytest.fixture
def password():
    return PASSWORD


def _api(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


@pytest.fixture
def api_as():
    """`api_as(user)`: an API client authenticated with that user's token (None = anonymous)."""
    return _api


@pytest.fixture
def sim():
    """A still simulator (no scripted callers) on free ports; agents/endpoints 1000-1099 and 2000-2099."""
    extensions = [str(n) for n in (*range(1000, 1100), *range(2000, 2100))]
    thread = SimulatorThread(ami={"endpoints": extensions}, esl={"agents": extensions})
    yield thread
    thread.close()


@pytest.fixture
def ast_pbx(db, sim):
    return PbxServerFactory(name="ast", kind="asterisk", port=sim.sim.ami_port, username="mayday", secret="mayday")


@pytest.fixture
def fs_pbx(db, sim):
    return PbxServerFactory(
        name="fs", kind="freeswitch", port=sim.sim.esl_port, username="", secret="ClueCon", domain="default"
    )


class LoopThread:
    """An asyncio loop in a thread, for running the listener beside the test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.started: list[concurrent.futures.Future] = []

    def start(self, coro):
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self.started.append(future)
        return future

    def close(self) -> None:
        """Stop what the test started and let it clean up (its database calls and their broadcasts finish on
        this loop), then whatever is left. Cancelling every task at once could cancel a broadcast that a
        database thread is waiting for, and that thread would wait for ever."""
        for future in self.started:
            future.cancel()
        concurrent.futures.wait(self.started, timeout=10)

        async def cancel_all():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def loop_thread():
    thread = LoopThread()
    yield thread
    thread.close()
