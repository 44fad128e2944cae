"""`/ws/status/` at its edges: binary frames and floods of snapshot requests are harmless, the Origin check
looks at scheme, host and port, token clients may come without an Origin, and a token that expires or is
revoked ends its connection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from knox.models import AuthToken

from agents import consumers
from tests.agents.test_live_websocket import (
    closed_with,
    connect,
    people,  # noqa: F401  (fixture)
    still_served,
    token_for,
    watch,
    watch_signed_in,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


async def test_a_binary_frame_is_ignored_and_the_connection_stays(people):  # noqa: F811
    me, _, boss = people
    ws = await watch(boss)
    await ws.send_to(bytes_data=b"\x00\xff binary")
    await ws.send_to(text_data="[" * 100_000)  # nested too deep for the decoder: ignored too
    await still_served(ws, me)
    await ws.disconnect()


async def test_a_flood_of_snapshot_requests_costs_a_couple_of_reads(people, monkeypatch):  # noqa: F811
    _, _, boss = people
    reads = []
    real = consumers._read_snapshot

    async def counted():
        reads.append(1)
        return await real()

    monkeypatch.setattr(consumers, "_read_snapshot", counted)
    ws = await watch(boss)
    reads.clear()
    for _ in range(1000):
        await ws.send_json_to({"type": "snapshot"})
    replies = []
    while True:
        try:
            replies.append(await ws.receive_json_from(timeout=consumers.SNAPSHOT_SECONDS * 3))
        except TimeoutError:
            break  # quiet for three intervals: all answered (the communicator has stopped the consumer)
    assert 1 <= len(reads) <= 3 and len(replies) == len(reads)
    assert [r["type"] for r in replies] == ["snapshot"] * len(replies)
    assert [r["seq"] for r in replies] == list(range(2, 2 + len(replies)))


async def test_changes_wait_for_a_requested_snapshot_so_none_is_overtaken(people):  # noqa: F811
    me, _, boss = people
    ws = await watch(boss)
    await ws.send_json_to({"type": "snapshot"})
    from tests.agents.test_live_websocket import sign_in_agent

    await sign_in_agent(me)  # while the snapshot is owed: the change waits for it
    first = await ws.receive_json_from(timeout=5)
    assert first["type"] == "snapshot"  # asked for first, sent first
    # Its read began after the change was made, so the change is in it (and is not sent again over it).
    assert next(d for d in first["agents"] if d["extension"] == me.extension)["availability"] == "available"
    await still_served(ws, me)
    await ws.disconnect()


@pytest.mark.parametrize(
    "origin",
    [b"https://127.0.0.1", b"http://127.0.0.1:8443", b"http://evil.example", b"null", b"http://127.0.0.1.evil.example"],
)
async def test_an_origin_other_than_ours_is_refused_even_with_the_right_host(people, origin):  # noqa: F811
    _, _, boss = people
    client, _ = await watch_signed_in(boss)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    _, connected = await connect(headers=[(b"origin", origin), (b"cookie", cookie)])
    assert not connected


@pytest.mark.parametrize("trusted", ["https://board.example.com", "https://*.example.com"])
async def test_a_trusted_origin_is_allowed(people, settings, trusted):  # noqa: F811
    _, _, boss = people
    settings.CSRF_TRUSTED_ORIGINS = [trusted]
    ws, connected = await connect(
        f"/ws/status/?token={await token_for(boss)}", headers=[(b"origin", b"https://board.example.com")]
    )
    assert connected and (await ws.receive_json_from(timeout=5))["type"] == "snapshot"
    await ws.disconnect()


async def test_a_token_client_may_come_without_an_origin_a_cookie_may_not(people):  # noqa: F811
    _, _, boss = people
    ws, connected = await connect(f"/ws/status/?token={await token_for(boss)}", headers=[])
    assert connected and (await ws.receive_json_from(timeout=5))["type"] == "snapshot"
    await ws.disconnect()
    ws, connected = await connect(headers=[(b"authorization", f"Token {await token_for(boss)}".encode())])
    assert connected and (await ws.receive_json_from(timeout=5))["type"] == "snapshot"
    await ws.disconnect()
    client, _ = await watch_signed_in(boss)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    _, connected = await connect(headers=[(b"cookie", cookie)])
    assert not connected


async def test_a_token_connection_ends_when_its_token_expires(people, monkeypatch):  # noqa: F811
    from agents import live

    me, _, boss = people
    monkeypatch.setattr(live, "REJOIN_SECONDS", 0.3)
    ws, bystander = await watch(boss), await watch(boss)
    expire = sync_to_async(
        lambda: AuthToken.objects.filter(user=boss).update(expiry=timezone.now() - timedelta(seconds=1))
    )
    await expire()
    assert await closed_with(ws) == consumers.CLOSE_FORBIDDEN
    assert await closed_with(bystander) == consumers.CLOSE_FORBIDDEN
    _ = me
