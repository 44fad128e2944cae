"""SMS delivery reports: how many can the webhook take, and how soon does a report reach the agent's page?

1. Webhook throughput: N keep-alive clients (threads) post Jasmin delivery reports to
   `POST /api/sms/dlr?token=…` on a real `manage.py serve` for a few seconds after a warm-up: for each of a
   pool of sent messages its level-1 report (ESME_ROK: no change) and its level-2 one (DELIVRD: the message
   moves, is broadcast to the "sms" group), as the gateway posts them when asked for level 3. Req/s and
   p50/p99 latency; the database queries of one report of each level, counted in-process. Floor: the same
   load against a bare view (`bench/floor`: answers ACK/Jasmin, nothing else) on the same server, which runs
   with bench/floor_settings.py (the app's URLs plus that view), turn about with the figure.
2. Report to page: an agent connected to `/ws/sms/` with an API token; a level-2 DELIVRD report for one of
   their sent messages; the time until the page has that message `delivered`. Floor: one POST to the bare
   view + one bare channel-layer group_send received + one bare websocket message round trip (a
   `websockets` echo server) of a message document's size, in the same run.

    python bench/sms.py [--clients 8] [--seconds 5] [--messages 5000] [--reports 200]
    (uses DATABASE_URL / REDIS_URL like the app)
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")
os.environ.setdefault("MAYDAY_SMS_WEBHOOK_TOKEN", "bench-sms-webhook-token")
os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1"
# No collectstatic for a benchmark: whitenoise finds the files in the apps (as in the tests, which ignore it too).
warnings.filterwarnings("ignore", "No directory at", UserWarning)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
import websockets  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from agents.models import Agent  # noqa: E402
from bench.common import fmt, free_port, wait_until_up, ws_round_trips  # noqa: E402
from sms import segments  # noqa: E402
from sms.models import DeliveryReport, Direction, Message, ProviderSettings, Status  # noqa: E402
from sms.selectors import message_document, webhook_token  # noqa: E402
from telephony.models import PbxServer  # noqa: E402

PBX = "bench-sms"
AGENTS = 10  # the load's messages belong to these, four to a customer's thread
PER_THREAD = 4
CONTENT = "Your table for four is ready at 19:30. Reply STOP to opt out."
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
WARM_UP_SECONDS = 1.0


class Server:
    """`manage.py serve` on a free port, with the app's URLs plus the bare floor view (bench/floor_settings.py)."""

    def __init__(self) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.floor_settings",
            "MAYDAY_LOG_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        wait_until_up(self.port)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# ---- data -----------------------------------------------------------------------------------------------------


def level1(provider_id: str) -> dict[str, str]:
    return {"id": provider_id, "level": "1", "message_status": "ESME_ROK", "connector": "smsc-bench"}


def level2(provider_id: str) -> dict[str, str]:
    now = timezone.now().strftime("%y%m%d%H%M")
    return {
        "id": provider_id,
        "level": "2",
        "message_status": "DELIVRD",
        "id_smsc": str(uuid.uuid4().int % 10**10),
        "sub": "001",
        "dlvrd": "001",
        "subdate": now,
        "donedate": now,
        "err": "000",
        "text": CONTENT[:20],
    }


def sent_messages(agents: list[Agent], count: int, first_customer: int) -> list[Message]:
    """`count` messages accepted by the provider (with its ids), each agent's in threads of PER_THREAD."""
    size = segments.count(CONTENT)
    now = timezone.now()
    rows = [
        Message(
            direction=Direction.OUTBOUND,
            customer=f"+2567{first_customer + i // PER_THREAD:08d}",
            our_number="Mayday",
            content=CONTENT,
            encoding=size.encoding,
            segments=size.segments,
            status=Status.SENT,
            provider_id=str(uuid.uuid4()),
            agent=agents[(i // PER_THREAD) % len(agents)],
            attempts=1,
            sent_at=now,
        )
        for i in range(count)
    ]
    Message.objects.bulk_create(rows, batch_size=1000)
    return rows


def prepare(messages: int, reports: int) -> tuple[str, list[Message], list[Message], list[Message], str]:
    """A clean slate in the benchmark's own database and Redis: the load's messages, two for counting queries,
    the page agent's messages and token. Returns the webhook token too."""
    call_command("migrate", verbosity=0)
    if settings.REDIS_URL:  # the benchmark's own Redis database: no group members left by an earlier run
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    with connection.cursor() as cursor:  # an earlier run's messages and reports
        cursor.execute(f"DELETE FROM {DeliveryReport._meta.db_table}")
        cursor.execute(f"DELETE FROM {Message._meta.db_table}")
    ProviderSettings.objects.filter(pk=1).delete()  # the environment's webhook token, not one saved earlier
    pbx, _ = PbxServer.objects.update_or_create(
        name=PBX, defaults={"kind": "asterisk", "host": "127.0.0.1", "port": 5038, "enabled": False}
    )
    User = get_user_model()
    agents = []
    for i in range(AGENTS + 1):
        ext = str(9900 + i)
        user, _ = User.objects.get_or_create(username=f"bench-sms-{ext}")
        agent, _ = Agent.objects.update_or_create(
            extension=ext, defaults={"user": user, "display_name": f"SMS agent {ext}", "pbx": pbx}
        )
        agents.append(agent)
    page_agent = agents.pop()
    load = sent_messages(agents, messages, 0)
    counted = sent_messages(agents, 2, messages)
    page = sent_messages([page_agent], reports, messages + 2)
    AuthToken.objects.filter(user=page_agent.user).delete()
    key = AuthToken.objects.create(user=page_agent.user)[1]
    return webhook_token(), load, counted, page, key


def queries_per_report(token: str, message: Message) -> tuple[int, int]:
    """The queries of one level-1 and one level-2 report, in-process (broadcast included: with no transaction
    open, on_commit runs at once)."""
    client = Client()
    counts = []
    for fields in (level1(message.provider_id), level2(message.provider_id)):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(f"/api/sms/dlr?token={token}", fields, HTTP_HOST="127.0.0.1")
        assert response.content == b"ACK/Jasmin", response.content
        counts.append(len(queries))
    message.refresh_from_db()
    assert message.status == Status.DELIVERED, message.status
    return counts[0], counts[1]


# ---- 1. throughput --------------------------------------------------------------------------------------------


class Reports:
    """The load's report bodies in order (each message's level 1, then its level 2), handed out to the clients."""

    def __init__(self, messages: list[Message]) -> None:
        bodies = []
        for m in messages:
            bodies += [urllib.parse.urlencode(level1(m.provider_id)), urllib.parse.urlencode(level2(m.provider_id))]
        self.bodies = iter(bodies)
        self.lock = threading.Lock()
        self.posted = 0
        self.exhausted = False

    def __call__(self) -> str | None:
        with self.lock:
            body = next(self.bodies, None)
            if body is None:
                self.exhausted = True
            else:
                self.posted += 1
            return body


def client(port: int, path: str, bodies, stop: float, out: list[list[float]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    while time.perf_counter() < stop and (body := bodies()) is not None:
        start = time.perf_counter()
        conn.request("POST", path, body=body, headers=FORM)
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200 or answer != b"ACK/Jasmin":
            raise RuntimeError(f"POST {path}: {response.status} {answer[:200]!r}")
        times.append(time.perf_counter() - start)
    conn.close()
    out.append(times)


def load(port: int, path: str, bodies, clients: int, seconds: float) -> tuple[float, list[float]]:
    """`clients` connections posting back to back for `seconds`: requests per second and their latencies."""
    out: list[list[float]] = []
    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(port, path, bodies, start + seconds, out)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if len(out) != clients:
        raise RuntimeError("a client failed (see above)")
    times = [t for each in out for t in each]
    return len(times) / elapsed, times


def throughput(port: int, token: str, messages: list[Message], clients: int, seconds: float, rounds: int):
    """The webhook and the bare view, turn about (`rounds` each), after a warm-up of each."""
    reports = Reports(messages)
    bare = urllib.parse.urlencode(level2(messages[0].provider_id))
    dlr = (f"/api/sms/dlr?token={token}", reports)
    floor = (f"/bench/floor?token={token}", lambda: bare)
    for path, bodies in (dlr, floor):
        load(port, path, bodies, clients, WARM_UP_SECONDS)
    figures: dict[str, tuple[list[float], list[float]]] = {"dlr": ([], []), "floor": ([], [])}
    for _ in range(rounds):
        for name, (path, bodies) in (("dlr", dlr), ("floor", floor)):
            rate, times = load(port, path, bodies, clients, seconds / rounds)
            figures[name][0].append(rate)
            figures[name][1].extend(times)
    return figures, reports


# ---- 2. report to page ----------------------------------------------------------------------------------------


async def page(port: int, key: str):
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/sms/?token={key}", origin=f"http://127.0.0.1:{port}", max_size=None
    )


async def delivered(ws, message_id: str) -> float:
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("type") != "messages":
            continue
        for doc in msg["messages"]:
            if doc["id"] == message_id and doc["status"] == Status.DELIVERED:
                return time.perf_counter()


def post(conn: http.client.HTTPConnection, path: str, body: str) -> None:
    conn.request("POST", path, body=body, headers=FORM)
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200 or answer != b"ACK/Jasmin":
        raise RuntimeError(f"POST {path}: {response.status} {answer[:200]!r}")


async def report_to_page(port: int, token: str, key: str, messages: list[Message], warm_up: int) -> list[float]:
    ws = await page(port, key)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    path = f"/api/sms/dlr?token={token}"
    times = []
    for i, message in enumerate(messages):
        waiter = asyncio.ensure_future(delivered(ws, str(message.pk)))
        await asyncio.sleep(0)  # the waiter is reading before the report goes out
        start = time.perf_counter()
        await asyncio.to_thread(post, conn, path, urllib.parse.urlencode(level2(message.provider_id)))
        end = await asyncio.wait_for(waiter, 10)
        if i >= warm_up:
            times.append(end - start)
    conn.close()
    await ws.close()
    return times


def bare_posts(port: int, token: str, n: int) -> list[float]:
    """The floor's HTTP part: the bare view, one request at a time, as the page benchmark posts."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    body = urllib.parse.urlencode(level2(str(uuid.uuid4())))
    times = []
    for _ in range(n):
        start = time.perf_counter()
        post(conn, f"/bench/floor?token={token}", body)
        times.append(time.perf_counter() - start)
    conn.close()
    return times


async def layer_hops(document: dict, n: int) -> list[float]:
    """The floor's channel-layer part: one group_send of a message document to a group of one, until received."""
    layer = get_channel_layer()
    group = f"bench{os.getpid()}"
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await layer.group_send(group, {"type": "sms.messages", "messages": [document]})
        await layer.receive(channel)
        times.append(time.perf_counter() - start)
    await layer.group_discard(group, channel)
    return times


# ---- the run --------------------------------------------------------------------------------------------------


async def main(args) -> None:
    if settings.DEBUG:
        raise SystemExit("sms: DJANGO_DEBUG is on; benchmarks run with it off, as in production.")
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    token, pool, counted, mine, key = await asyncio.to_thread(prepare, args.messages, args.reports + 5)
    level_1, level_2 = await asyncio.to_thread(queries_per_report, token, counted[0])
    await asyncio.to_thread(connections.close_all)  # the load's threads use none; the server has its own
    server = Server()
    print(f"sms: database {engine}, channel layer {layer}, one `manage.py serve` process")
    try:
        figures, reports = await asyncio.to_thread(
            throughput, server.port, token, pool, args.clients, args.seconds, args.rounds
        )
        (rates, times), (floor_rates, floor_times) = figures["dlr"], figures["floor"]
        rate, floor_rate = sum(rates) / len(rates), sum(floor_rates) / len(floor_rates)
        delivered_now = Message.objects.filter(status=Status.DELIVERED).exclude(pk=counted[0].pk)
        moved = await asyncio.to_thread(delivered_now.count)
        print(
            f"  dlr webhook, {args.clients} clients ({len(times):,} reports, level 1 and 2 in turn): "
            f"{rate:7,.0f} req/s  {fmt(times)} "
            f"| floor (bare view, same server): {floor_rate:7,.0f} req/s  {fmt(floor_times)} "
            f"| {rate / floor_rate:4.0%} of the floor"
        )
        print(
            f"  queries per report: level 1 (ESME_ROK, no change) {level_1}, level 2 (DELIVRD, applied and "
            f"broadcast) {level_2} | the load's level-2 reports: {reports.posted // 2:,}, messages they delivered: "
            f"{moved:,}" + (" | MESSAGE POOL EXHAUSTED: raise --messages" if reports.exhausted else "")
        )
        to_page = await report_to_page(server.port, token, key, mine, 5)
        document = await asyncio.to_thread(lambda: message_document(Message.objects.get(pk=mine[0].pk)))
        n = len(to_page)
        bare = await asyncio.to_thread(bare_posts, server.port, token, n)
        hops = await layer_hops(document, n)
        echoes = await ws_round_trips(json.dumps({"type": "messages", "messages": [document]}), n)
        floor = [a + b + c for a, b, c in zip(bare, hops, echoes, strict=True)]
        print(
            f"  DELIVRD report -> agent's /ws/sms/ page ({n}): {fmt(to_page)} "
            f"| floor (bare view POST + bare group_send + bare ws message): {fmt(floor)}"
        )
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time for each of dlr and floor")
    parser.add_argument("--rounds", type=int, default=5, help="dlr and floor take turns this many times")
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--reports", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
