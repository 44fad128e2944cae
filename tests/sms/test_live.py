"""`/ws/sms/`: agents and supervisors only; each message changed reaches the pages of whom may see it (an agent:
the conversations they took part in; supervisors: every one), without the list of who may."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.test import Client

from agents import consumers
from agents.models import Agent
from sms import services
from sms.models import Direction, Message, Status
from tests import sockets
from tests.factories import AgentFactory, PbxServerFactory, UserFactory
from tests.sockets import closed_with

# serialized_rollback: the roles and their permissions come from data migrations.
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
ANNA, BEN, CLEO = "+256700771301", "+256700771302", "+256700771303"


@pytest.fixture
def floor(db):
    """Agent 1005 wrote to Anna, agent 1006 to Ben; `boss` supervises."""
    pbx = PbxServerFactory()
    mine, theirs = AgentFactory(extension="1005", pbx=pbx), AgentFactory(extension="1006", pbx=pbx)
    for agent, customer in ((mine, ANNA), (theirs, BEN)):
        Message.objects.create(
            direction=Direction.OUTBOUND, customer=customer, content="Hello", status=Status.SENT, agent=agent
        )
    boss = UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
    return mine, theirs, boss


async def connect(user=None, cookie: bytes | None = None):
    return await sockets.connect("/ws/sms/", user, cookie)


@sync_to_async
def reply(customer: str, provider_id: str) -> Message:
    fields = {"id": provider_id, "from": customer, "to": "Mayday", "content": f"Reply from {customer}"}
    return services.reply_record(fields=fields, customer=customer, our_number="Mayday")[0]


async def test_anonymous_users_and_users_with_no_role_are_refused(floor):
    outsider = await sync_to_async(UserFactory)(username="nobody")
    assert await closed_with(await connect()) == consumers.CLOSE_UNAUTHENTICATED
    assert await closed_with(await connect(outsider)) == consumers.CLOSE_FORBIDDEN


async def test_an_agent_gets_only_the_conversations_they_took_part_in(floor):
    mine, _, _ = floor
    ws = await connect(mine.user)
    await reply(BEN, "mo-1")  # agent 1006's customer
    await reply(CLEO, "mo-2")  # nobody's yet
    assert await ws.receive_nothing(timeout=0.5)
    message = await reply(ANNA, "mo-3")
    received = await ws.receive_json_from(timeout=5)
    assert received["type"] == "messages"
    (doc,) = received["messages"]
    assert (doc["id"], doc["customer"], doc["content"], doc["status"]) == (
        str(message.pk),
        ANNA,
        "Reply from +256700771301",
        "received",
    )
    assert "viewers" not in doc
    await ws.disconnect()


async def test_supervisors_get_every_message_and_each_status_change(floor):
    _, _, boss = floor
    ws = await connect(boss)
    for n, customer in enumerate((ANNA, BEN, CLEO)):
        await reply(customer, f"mo-{n}")
        assert (await ws.receive_json_from(timeout=5))["messages"][0]["customer"] == customer

    @sync_to_async
    def fail_the_first() -> str:
        sent = Message.objects.get(customer=ANNA, direction=Direction.OUTBOUND)
        Message.objects.filter(pk=sent.pk).update(provider_id="mt-1")
        services.report_record(fields={"id": "mt-1", "level": "2", "message_status": "UNDELIV", "err": "001"})
        return str(sent.pk)

    sent_id = await fail_the_first()
    (doc,) = (await ws.receive_json_from(timeout=5))["messages"]
    assert (doc["id"], doc["status"], doc["error"]) == (sent_id, "undelivered", "Not delivered: UNDELIV (error 001)")
    await ws.disconnect()


async def test_a_session_cookie_works_and_losing_the_role_closes_the_connection(floor):
    _, _, boss = floor
    client = Client()
    await sync_to_async(client.force_login)(boss)
    ws = await connect(cookie=f"sessionid={client.cookies['sessionid'].value}".encode())
    await reply(CLEO, "mo-1")
    assert (await ws.receive_json_from(timeout=5))["type"] == "messages"

    @sync_to_async
    def demote():
        boss.groups.remove(Group.objects.get(name="Supervisors"))

    await demote()
    assert await closed_with(ws) == consumers.CLOSE_FORBIDDEN


async def test_an_agent_removed_is_disconnected(floor):
    mine, _, _ = floor
    ws = await connect(mine.user)
    await sync_to_async(lambda: Agent.objects.get(pk=mine.pk).delete())()
    assert await closed_with(ws) == consumers.CLOSE_FORBIDDEN


async def test_nothing_a_client_sends_breaks_the_connection(floor):
    mine, _, _ = floor
    ws = await connect(mine.user)
    await ws.send_to(text_data="{not json")
    await ws.send_to(bytes_data=b"\x00")
    await reply(ANNA, "mo-1")
    assert (await ws.receive_json_from(timeout=5))["messages"][0]["customer"] == ANNA
    await ws.disconnect()
