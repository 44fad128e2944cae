"""`/ws/status/`: who may connect, what each subscriber sees, snapshot and numbered changes, end to end from a
status request or a PBX event through the simulator to the subscriber."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from agents import consumers
from agents.services import session_open
from mayday.asgi import application
from telephony.pbx.listener import Stream
from tests.factories import UserFactory, agent_on

# serialized_rollback: the roles and their permissions come from a data migration.
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")


@sync_to_async
def token_for(user) -> str:
    return AuthToken.objects.create(user=user)[1]


async def connect(path="/ws/status/", headers=(ORIGIN,)):
    ws = WebsocketCommunicator(application, path, headers=[HOST, *headers])
    connected, _ = await ws.connect(timeout=5)
    return ws, connected


async def closed_with(ws) -> int:
    message = await ws.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def next_change(ws, extension, until, timeout=5.0):
    """The next `changes` message about `extension` whose agent, once the change is applied to what the
    subscriber had (changes carry the fields that changed, as the pages merge them), satisfies `until`; other
    messages are skipped. Returns the message and the merged document."""
    docs = ws.__dict__.setdefault("docs", {})

    async def wait():
        while True:
            msg = await ws.receive_json_from(timeout=timeout)
            if msg["type"] == "snapshot":
                docs.clear()
            for doc in msg["agents"]:
                docs[doc["extension"]] = merged = {**docs.get(doc["extension"], {}), **doc}
                try:
                    if doc["extension"] == extension and until(merged):
                        return msg, merged
                except KeyError:
                    pass  # only some fields known so far (no snapshot taken): not yet what is awaited

    return await asyncio.wait_for(wait(), timeout)


@pytest.fixture
def people(db, sim, ast_pbx):
    me = agent_on(ast_pbx, "2001", availability="logged_out")
    other = agent_on(ast_pbx, "2002")
    session_open(agent=other, client_type="webrtc", ip="203.0.113.9")
    boss = UserFactory(username="boss", is_staff=True, groups=["Supervisors"])
    return me, other, boss


async def test_anonymous_bad_token_wrong_origin_and_outsiders_are_refused(people):
    ws, connected = await connect()
    assert connected and await closed_with(ws) == consumers.CLOSE_UNAUTHENTICATED
    ws, _ = await connect("/ws/status/?token=not-a-token")
    assert await closed_with(ws) == consumers.CLOSE_UNAUTHENTICATED
    ws, _ = await connect(headers=[ORIGIN, (b"authorization", b"Token wrong")])
    assert await closed_with(ws) == consumers.CLOSE_UNAUTHENTICATED
    me, _, _ = people
    ws, connected = await connect(
        f"/ws/status/?token={await token_for(me.user)}", headers=[(b"origin", b"http://evil.example")]
    )
    assert not connected
    nobody = await sync_to_async(UserFactory)(username="nobody")
    ws, _ = await connect(f"/ws/status/?token={await token_for(nobody)}")
    assert await closed_with(ws) == consumers.CLOSE_FORBIDDEN


async def test_a_supervisor_sees_everyone_with_network_details(people):
    _, _, boss = people
    ws, _ = await connect(headers=[ORIGIN, (b"authorization", f"Token {await token_for(boss)}".encode())])
    snap = await ws.receive_json_from(timeout=5)
    assert (snap["type"], snap["seq"]) == ("snapshot", 1)
    docs = {d["extension"]: d for d in snap["agents"]}
    assert docs["2002"]["ip"] == "203.0.113.9" and docs["2002"]["session_active"] is True
    await ws.disconnect()


async def test_an_agent_sees_the_board_but_not_other_agents_network_or_sessions(people):
    me, _, _ = people
    ws, _ = await connect(f"/ws/status/?token={await token_for(me.user)}")
    snap = await ws.receive_json_from(timeout=5)
    docs = {d["extension"]: d for d in snap["agents"]}
    assert set(docs["2002"]) == {"extension", "full_name", "availability", "pause_reason", "presence", "since"}
    assert docs["2002"]["presence"] == "online"
    assert "ip" in docs["2001"] and "queues" in docs["2001"]  # their own, in full
    await ws.disconnect()


async def test_session_cookie_authenticates_pages(people):
    _, _, boss = people
    client = Client()
    await sync_to_async(client.force_login)(boss)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    ws, _ = await connect(headers=[ORIGIN, (b"cookie", cookie)])
    assert (await ws.receive_json_from(timeout=5))["type"] == "snapshot"
    await ws.disconnect()


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
async def test_a_status_request_reaches_the_pbx_and_every_subscriber(sim, db, kind):
    from tests.factories import PbxServerFactory

    if kind == "asterisk":
        pbx = await sync_to_async(PbxServerFactory)(
            name="ast", kind="asterisk", port=sim.sim.ami_port, username="mayday", secret="mayday"
        )
    else:
        pbx = await sync_to_async(PbxServerFactory)(
            name="fs", kind="freeswitch", port=sim.sim.esl_port, username="", secret="ClueCon", domain="default"
        )
    me = await sync_to_async(agent_on)(pbx, "2001", availability="logged_out")
    boss = await sync_to_async(UserFactory)(username="boss", is_staff=True, groups=["Supervisors"])
    watcher, _ = await connect(f"/ws/status/?token={await token_for(boss)}")
    assert (await watcher.receive_json_from(timeout=5))["seq"] == 1

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {await token_for(me.user)}")
    response = await sync_to_async(api.post)(
        "/api/agents/2001/status/", {"status": "on_break", "reason": "Lunch"}, format="json"
    )
    assert response.status_code == 202
    pending, doc = await next_change(watcher, "2001", lambda d: d["availability"] == "on_break")
    applied, doc = await next_change(watcher, "2001", lambda d: d["sync_state"] == "applied")
    assert doc["pause_reason"] == "Lunch" and applied["seq"] > pending["seq"] >= 2
    if kind == "asterisk":
        assert {q: m.paused for q, s in sim.sim.ami.queues.items() if (m := s.members.get("PJSIP/2001"))} == {
            "support": True,
            "sales": True,
        }
    else:
        assert sim.sim.esl.agents["2001@default"].status == "On Break"
    await watcher.disconnect()


async def test_a_pbx_event_reaches_subscribers_through_the_listener(people, ast_pbx, sim):
    _, _, boss = people
    watcher, _ = await connect(f"/ws/status/?token={await token_for(boss)}")
    await watcher.receive_json_from(timeout=5)
    stream = Stream(ast_pbx)
    task = asyncio.get_running_loop().create_task(stream.run())
    try:
        for _ in range(100):
            if stream.live:
                break
            await asyncio.sleep(0.05)
        await sync_to_async(other_joins_and_pauses)(sim)
        _, doc = await next_change(watcher, "2002", lambda d: any(q["paused"] for q in d["queues"]))
        queues = {q["queue"]: (q["on_pbx"], q["paused"], q["reason"]) for q in doc["queues"]}
        assert queues["support"] == (True, True, "Phone") and queues["sales"][1] is False
        sim.run(sim.sim.ami.set_contact, "2002", "Reachable", 6002)
        _, doc = await next_change(watcher, "2002", lambda d: d["port"] == 6002)
        assert doc["transport"] == "udp" and doc["rtt_ms"] is not None
    finally:
        task.cancel()
        await watcher.disconnect()


def other_joins_and_pauses(sim):
    from telephony.simulator.ami import Member

    ami = sim.sim.ami
    member = Member("PJSIP/2002", "Other", "PJSIP/2002")
    ami.queues["support"].members["PJSIP/2002"] = member
    ami.set_paused("support", member, True, "Phone")


async def test_a_client_asks_for_a_fresh_snapshot_and_numbering_continues(people):
    _, _, boss = people
    ws, _ = await connect(f"/ws/status/?token={await token_for(boss)}")
    assert (await ws.receive_json_from(timeout=5))["seq"] == 1
    await ws.send_to(text_data="{not json")  # ignored, the connection stays
    await ws.send_json_to(["snapshot"])
    await ws.send_json_to({"type": "snapshot"})
    again = await ws.receive_json_from(timeout=5)
    assert (again["type"], again["seq"], len(again["agents"])) == ("snapshot", 2, 2)
    await ws.disconnect()
    ws, _ = await connect(f"/ws/status/?token={await token_for(boss)}")  # a new connection starts over
    assert (await ws.receive_json_from(timeout=5))["seq"] == 1
    await ws.disconnect()


async def watch(user=None, cookie=None):
    """A connected subscriber past its snapshot, by token (or by session cookie)."""
    headers = [ORIGIN, (b"cookie", cookie)] if cookie else [ORIGIN]
    path = "/ws/status/" if cookie else f"/ws/status/?token={await token_for(user)}"
    ws, _ = await connect(path, headers=headers)
    snapshot = await ws.receive_json_from(timeout=5)
    assert snapshot["type"] == "snapshot"
    ws.docs = {doc["extension"]: doc for doc in snapshot["agents"]}  # what next_change applies changes to
    return ws


async def watch_signed_in(user):
    """A page's subscriber: signed in with a session cookie."""
    client = Client()
    await sync_to_async(client.force_login)(user)
    return client, await watch(cookie=f"sessionid={client.cookies['sessionid'].value}".encode())


@sync_to_async
def sign_in_agent(agent):
    from agents.services import agent_sign_in

    agent_sign_in(agent=agent, actor=agent.user)


async def still_served(ws, agent) -> None:
    await sign_in_agent(agent)
    await next_change(ws, agent.extension, lambda d: d["availability"] == "available")


@pytest.mark.parametrize(
    "revoke",
    [
        lambda boss: boss.groups.remove(Group.objects.get(name="Supervisors")),
        lambda boss: Group.objects.get(name="Supervisors").user_set.remove(boss),
        lambda boss: Group.objects.get(name="Supervisors").permissions.clear(),
        lambda boss: setattr(boss, "is_active", False) or boss.save(),
        lambda boss: AuthToken.objects.filter(user=boss).delete(),
    ],
    ids=["role removed", "removed from the role", "role emptied", "deactivated", "token revoked"],
)
async def test_a_supervisor_whose_rights_go_is_cut_off_and_others_stay(people, revoke):
    me, _, boss = people
    second = await sync_to_async(UserFactory)(username="second", is_superuser=True)
    ws, bystander = await watch(boss), await watch(second)
    await sync_to_async(revoke)(boss)
    assert await closed_with(ws) == consumers.CLOSE_FORBIDDEN
    await still_served(bystander, me)  # someone else's change of rights leaves this connection alone
    await bystander.disconnect()


async def test_a_change_announced_right_after_rights_go_never_reaches_them(people):
    """A connection reading its rights again takes the changes that came meanwhile after that read, not before."""
    me, _, boss = people
    ws = await watch(boss)

    @sync_to_async
    def demote_then_change():
        from agents.services import agent_sign_in

        boss.groups.remove(Group.objects.get(name="Supervisors"))  # announced on commit: read your rights again
        agent_sign_in(agent=me, actor=me.user)  # and a change right behind it

    await demote_then_change()
    message = await ws.receive_output(timeout=5)
    assert (message["type"], message.get("code")) == ("websocket.close", consumers.CLOSE_FORBIDDEN), message


async def test_signing_out_closes_that_users_connections_and_an_agent_losing_their_agent_too(people):
    me, other, boss = people
    second = await sync_to_async(UserFactory)(username="second", is_superuser=True)
    bystander = await watch(second)
    client, page = await watch_signed_in(boss)
    by_token = await watch(boss)
    await sync_to_async(client.post)("/accounts/logout/")
    assert await closed_with(page) == consumers.CLOSE_FORBIDDEN
    assert await closed_with(by_token) == consumers.CLOSE_FORBIDDEN  # signing out revokes the API tokens too
    assert not await sync_to_async(AuthToken.objects.filter(user=boss).exists)()
    await still_served(bystander, me)

    agent_ws = await watch(other.user)
    await sync_to_async(other.delete)()
    assert await closed_with(agent_ws) == consumers.CLOSE_FORBIDDEN
    await bystander.disconnect()


async def test_a_changed_password_ends_older_sign_ins_and_every_token(people, api_as):
    _, _, boss = people
    _, page = await watch_signed_in(boss)
    by_token = await watch(boss)
    key = await token_for(boss)

    @sync_to_async
    def change_password():
        boss.set_password("a-new-password-4321")
        boss.save()

    await change_password()
    assert await closed_with(page) == consumers.CLOSE_FORBIDDEN
    assert await closed_with(by_token) == consumers.CLOSE_FORBIDDEN
    api = await sync_to_async(api_as)(None)
    response = await sync_to_async(api.get)("/api/agents/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401


async def test_an_idle_connection_stays_open_and_still_receives(people):
    """Longer than the Redis layer's 5 s blocking pop: an idle subscriber must not be torn down (1011)."""
    me, _, boss = people
    ws = await watch(boss)
    await asyncio.sleep(6.5)
    assert await ws.receive_nothing(timeout=0.1)
    await still_served(ws, me)
    await ws.disconnect()


async def test_a_burst_of_subscribers_connects_and_leaves_together(people):
    """More at once than redis-py's default pool of 100 connections: none fails, all get the next change."""
    me, _, boss = people
    key = await token_for(boss)
    crowd = await asyncio.gather(*(connect(f"/ws/status/?token={key}") for _ in range(150)))
    for ws, connected in crowd:
        assert connected and (await ws.receive_json_from(timeout=10))["type"] == "snapshot"
    await sign_in_agent(me)
    for ws, _ in crowd:
        await next_change(ws, "2001", lambda d: d["availability"] == "available", timeout=10)
    await asyncio.gather(*(ws.disconnect() for ws, _ in crowd))


async def test_snapshots_asked_together_share_a_read_that_began_after_each_asked(monkeypatch):
    reads, gates = [], [asyncio.Event(), asyncio.Event()]

    async def read():
        reads.append(len(reads) + 1)
        number = len(reads)
        await gates[number - 1].wait()
        return [f"read {number}"]

    async def settle():
        for _ in range(5):
            await asyncio.sleep(0)

    monkeypatch.setattr(consumers, "_read_snapshot", read)
    shared = consumers.SharedSnapshot()
    first = asyncio.ensure_future(shared.get())
    await settle()
    assert reads == [1]
    later = [asyncio.ensure_future(shared.get()) for _ in range(5)]  # while read 1 is under way
    await settle()
    gates[0].set()
    assert await first == ["read 1"]
    await settle()
    assert reads == [1, 2]  # one more read for the five, begun after they asked
    gates[1].set()
    assert [await f for f in later] == [["read 2"]] * 5
    assert shared.reading is None and shared.next is None


async def test_a_board_left_open_outlives_the_layer_s_group_expiry(people, monkeypatch):
    from channels.layers import get_channel_layer

    from agents import live

    me, _, boss = people
    monkeypatch.setattr(get_channel_layer(), "group_expiry", 2)
    monkeypatch.setattr(live, "REJOIN_SECONDS", 0.5)
    ws = await watch(boss)
    await asyncio.sleep(3.5)  # joined once, it would have been forgotten by now
    await still_served(ws, me)
    await ws.disconnect()


async def test_a_change_carries_what_changed_and_an_agent_gets_only_board_fields(people):
    from agents.services import agent_request_status

    me, other, boss = people
    mine, boards = await watch(me.user), await watch(boss)
    await sync_to_async(agent_request_status)(agent=other, availability="on_break", reason="Lunch", source="api")

    def about_other(msg):
        return next(doc for doc in msg["agents"] if doc["extension"] == "2002")

    pending, _ = await next_change(boards, "2002", lambda d: d["availability"] == "on_break")
    assert set(about_other(pending)) == {
        "extension",
        "availability",
        "pause_reason",
        "since",
        "sync_state",
        "sync_error",
    }
    applied, doc = await next_change(boards, "2002", lambda d: d["sync_state"] == "applied")
    assert set(about_other(applied)) == {"extension", "sync_state", "sync_error"}
    assert (doc["availability"], doc["pause_reason"], doc["ip"]) == ("on_break", "Lunch", "203.0.113.9")
    # The agent hears of the break once, in board fields; the command's result is not theirs.
    assert about_other(await mine.receive_json_from(timeout=5)) == {
        "extension": "2002",
        "availability": "on_break",
        "pause_reason": "Lunch",
        "since": doc["since"],
    }
    assert await mine.receive_nothing(timeout=0.5)
    await mine.disconnect()
    await boards.disconnect()


async def test_a_process_is_one_member_of_the_group_however_many_watch(people, monkeypatch):
    from channels.layers import get_channel_layer

    from agents import live

    me, _, boss = people
    layer, calls = get_channel_layer(), []

    def spy(name):
        real = getattr(layer, name)

        async def call(*args):
            calls.append(name)
            return await real(*args)

        return call

    for name in ("group_add", "group_discard"):
        monkeypatch.setattr(layer, name, spy(name))
    boards = [await watch(boss) for _ in range(5)]
    assert calls == ["group_add"]  # the hub joined once, for all five
    await sign_in_agent(me)
    for ws in boards:  # one layer message, to every connection, each numbered on its own
        msg, _ = await next_change(ws, "2001", lambda d: d["availability"] == "available")
        assert msg["seq"] == 2
    for ws in boards:
        await ws.disconnect()
    assert calls == ["group_add", "group_discard"]  # the last one out left the group
    assert not live.hub(live.STATUS_GROUP).subscribers


async def test_a_hub_stops_even_when_its_layer_loses_a_cancellation(monkeypatch):
    """On Python 3.11, redis-py's sends (asyncio.wait_for) can lose a cancellation that comes as they finish: a hub
    cancelled once would wait on Redis for ever. It is cancelled until it has stopped."""
    from channels.layers import get_channel_layer

    from agents import live

    layer = get_channel_layer()
    receive = layer.receive

    async def receive_as_redis_can(channel):
        try:
            return await receive(channel)
        except asyncio.CancelledError:  # lost: the receive goes on
            return await receive(channel)

    monkeypatch.setattr(layer, "receive", receive_as_redis_can)

    class Screen:
        async def deliver(self, message):
            pass

    hub, screen = live.Hub("stopping"), Screen()
    await hub.subscribe(screen)
    tasks = hub.tasks
    await asyncio.sleep(0.05)  # the hub is waiting in the layer's receive
    await hub.unsubscribe(screen)
    done, _ = await asyncio.wait(tasks, timeout=3)
    assert done == set(tasks) and all(task.cancelled() for task in tasks)
