"""HTTP under ASGI (mayday.asgi, as `manage.py serve` runs it): each request on one of a fixed set of threads, a
thread keeping its database connection from one request to the next, and requests beyond the threads waiting."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections
from django.test import override_settings

from mayday.asgi import application

# Committed rows: the request threads read with connections of their own.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def healthz() -> dict:
    """GET /healthz (a database and a channel layer round trip), once the request has ended."""
    request = HttpCommunicator(application, "GET", "/healthz", headers=[(b"host", b"127.0.0.1")])
    response = await request.get_response(10)
    await request.wait(10)
    return response


def test_a_request_thread_keeps_its_database_connection_for_the_next_request():
    seen = []  # (thread, its database connection) as each request ends: kept, so no id is reused

    def note(**kwargs) -> None:
        seen.append((threading.current_thread().name, connections["default"].connection))

    request_finished.connect(note)
    try:

        async def one_after_another() -> list[dict]:
            return [await healthz(), await healthz()]

        responses = async_to_sync(one_after_another)()
    finally:
        request_finished.disconnect(note)
    assert [r["status"] for r in responses] == [200, 200]
    (first_thread, first_connection), (second_thread, second_connection) = seen
    assert first_thread.startswith("request-") and second_thread == first_thread
    assert first_connection is not None and second_connection is first_connection


@override_settings(MAYDAY_WEB_THREADS=2)
def test_requests_beyond_the_threads_wait_for_one_and_are_all_answered():
    lock, running, most = threading.Lock(), [0], [0]

    def slow(**kwargs) -> None:  # on the request's thread: holds it a while
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1

    request_started.connect(slow)
    try:

        async def at_once() -> list[dict]:
            return await asyncio.gather(*(healthz() for _ in range(5)))

        responses = async_to_sync(at_once)()
    finally:
        request_started.disconnect(slow)
    assert [r["status"] for r in responses] == [200] * 5
    assert most[0] == 2


@pytest.mark.skipif(not settings.REDIS_URL, reason="the limits are counted in Redis only with REDIS_URL")
def test_requests_count_their_limits_in_redis_over_the_process_connections_not_one_of_their_own():
    """Each request served asynchronously has a cache object of its own; their counts still go over the
    process's pooled connections (a connection a request cost a millisecond or two)."""
    server = redis.Redis.from_url(settings.REDIS_URL)

    async def sign_in_tries() -> list[int]:
        statuses = []
        for _ in range(3):  # each try is counted (SignInRateThrottle) before its form is refused
            request = HttpCommunicator(
                application,
                "POST",
                "/api/auth/token/",
                body=b"{}",
                headers=[(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
            )
            statuses.append((await request.get_response(10))["status"])
            await request.wait(10)
        return statuses

    before = server.info("stats")["total_connections_received"]
    assert async_to_sync(sign_in_tries)() == [400, 400, 400]
    assert server.info("stats")["total_connections_received"] - before <= 1
    assert any(key.startswith(b":1:throttle_signin_") for key in server.keys("*"))
