"""`/ws/wallboard/`: only supervisors; a snapshot, then the figures again when a call is recorded or an agent's
status changes, a burst of changes coalesced into few messages, the last always sent."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.test import Client

from agents import consumers
from agents.models import Agent
from agents.services import Adoption, agents_adopt_status
from reporting.services import calls_record
from telephony.pbx import events as ev
from tests import sockets
from tests.factories import PbxServerFactory, QueueFactory, UserFactory, agent_on
from tests.sockets import closed_with

# serialized_rollback: the roles and their permissions come from data migrations.
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def floor(db):
    pbx = PbxServerFactory(name="ast")
    queue = QueueFactory(name="support", pbx=pbx, service_level_seconds=20)
    agent = agent_on(pbx, "2001", availability="available", queues=("support",))
    boss = UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
    return pbx, queue, agent, boss


async def connect(user=None, cookie: bytes | None = None):
    return await sockets.connect("/ws/wallboard/", user, cookie)


@sync_to_async
def caller_joins(pbx, call_id: str) -> None:
    calls_record(pbx_id=pbx.pk, events=[ev.CallerJoined("support", call_id, "0712345678", "Caller", 1, at=time.time())])


async def test_anonymous_users_and_agents_are_refused(floor):
    _, _, agent, _ = floor
    assert await closed_with(await connect()) == consumers.CLOSE_UNAUTHENTICATED
    assert await closed_with(await connect(agent.user)) == consumers.CLOSE_FORBIDDEN


async def test_a_snapshot_then_the_figures_after_a_call_and_a_status_change(floor):
    pbx, queue, agent, boss = floor
    ws = await connect(boss)
    snapshot = await ws.receive_json_from(timeout=5)
    assert snapshot == {
        "type": "snapshot",
        "queues": [
            {
                "id": queue.pk,
                "name": "support (ast)",
                "waiting": 0,
                "longest_wait_now": 0,
                "waiting_since": None,
                "answered": 0,
                "abandoned": 0,
                "service_level": None,
                "available": 1,
                "on_break": 0,
                "on_call": 0,
            }
        ],
    }

    await caller_joins(pbx, "1741000000.1")
    (board,) = (await ws.receive_json_from(timeout=5))["queues"]
    assert (board["waiting"], board["available"]) == (1, 1)
    assert board["waiting_since"].endswith("+00:00")

    seq = (await sync_to_async(Agent.objects.get)(pk=agent.pk)).request_seq
    await sync_to_async(agents_adopt_status)(adoptions=[Adoption(agent.pk, seq, "on_break", "")])
    message = await ws.receive_json_from(timeout=5)
    assert message["type"] == "queues"
    (board,) = message["queues"]
    assert (board["waiting"], board["available"], board["on_break"]) == (1, 0, 1)
    await ws.disconnect()


async def test_a_burst_of_calls_comes_as_few_messages_the_last_with_them_all(floor):
    pbx, _, _, boss = floor
    ws = await connect(boss)
    await ws.receive_json_from(timeout=5)
    for n in range(8):
        await caller_joins(pbx, f"1741000000.{n}")
    seen = []
    while not seen or seen[-1][0]["waiting"] < 8:
        seen.append((await ws.receive_json_from(timeout=5))["queues"])
    assert len(seen) <= 2
    assert await ws.receive_nothing(timeout=0.8)
    await ws.disconnect()


async def test_a_session_cookie_works_and_losing_the_role_closes_the_connection(floor):
    _, _, _, boss = floor
    client = Client()
    await sync_to_async(client.force_login)(boss)
    ws = await connect(cookie=f"sessionid={client.cookies['sessionid'].value}".encode())
    assert (await ws.receive_json_from(timeout=5))["type"] == "snapshot"

    @sync_to_async
    def demote():
        boss.groups.remove(Group.objects.get(name="Supervisors"))

    await demote()
    assert await closed_with(ws) == consumers.CLOSE_FORBIDDEN


async def test_nothing_a_client_sends_breaks_the_connection(floor):
    pbx, _, _, boss = floor
    ws = await connect(boss)
    await ws.receive_json_from(timeout=5)
    await ws.send_to(text_data="{not json")
    await ws.send_to(bytes_data=b"\x00")
    await caller_joins(pbx, "1741000000.9")
    assert (await ws.receive_json_from(timeout=5))["queues"][0]["waiting"] == 1
    await ws.disconnect()


async def test_a_queue_added_later_is_on_the_next_message(floor):
    pbx, _, _, boss = floor
    ws = await connect(boss)
    assert len((await ws.receive_json_from(timeout=5))["queues"]) == 1
    await sync_to_async(QueueFactory)(name="sales", pbx=pbx)
    await caller_joins(pbx, "1741000000.5")
    names = [q["name"] for q in (await ws.receive_json_from(timeout=5))["queues"]]
    assert names == ["sales (ast)", "support (ast)"]
    await ws.disconnect()
