"""Live status: how long from a status change to the board, and from a PBX event to every subscriber?

1. Status change to board: an authenticated `POST /api/agents/{ext}/status/`
   (alternating on_break / available) to a real `manage.py serve`; the PBX
   command reaches the simulator; a websocket subscriber sees the new
   availability confirmed (`sync_state` applied). Also a full HTTP sign-in
   (login form, password check, PBX command, board), with the password
   check's own time measured separately. Floor: one bare PBX command round
   trip (the same command bytes on a raw socket) plus one bare websocket
   message round trip (a `websockets` echo server), in the same run.
2. PBX event to N subscribers: one member pause at the simulator; the time
   until the last of N websocket subscribers has it. Floor: a bare channel
   layer `group_send` to N channels until the last has it.

    python bench/status.py [--changes 200] [--sign-ins 50] [--subscribers 100,1000]
    (uses DATABASE_URL / REDIS_URL like the app)
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
import websockets  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import check_password, make_password  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from agents.models import Agent  # noqa: E402
from bench.common import fmt, free_port, wait_until_up  # noqa: E402
from bench.ingest import setup_pbx  # noqa: E402
from telephony.models import PbxServer  # noqa: E402
from telephony.simulator.runner import SimulatorThread  # noqa: E402

PASSWORD = "bench-password-1234"


class Server:
    """`manage.py serve` (and, when the channel layer is Redis, `pbx_listen` beside it) on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        env = {**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "MAYDAY_LOG_LEVEL": "WARNING"}
        python = sys.executable
        self.procs = [
            subprocess.Popen(
                [python, "manage.py", "serve", "--port", str(self.port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
            )
        ]
        if settings.REDIS_URL:
            self.procs.append(
                subprocess.Popen([python, "manage.py", "pbx_listen"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
            )
        wait_until_up(self.port)
        time.sleep(1.5)  # the listener connects and resyncs

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)


def prepare(sim: SimulatorThread) -> tuple[dict[str, PbxServer], str]:
    call_command("migrate", verbosity=0)
    if settings.REDIS_URL:  # the benchmark's own Redis database: no group members left by an earlier run
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    PbxServer.objects.exclude(name__startswith="bench-").update(enabled=False)
    pbxs = {kind: setup_pbx(kind, sim) for kind in ("asterisk", "freeswitch")}
    PbxServer.objects.filter(pk__in=[p.pk for p in pbxs.values()]).update(enabled=True)
    User = get_user_model()
    hashed = make_password(PASSWORD)
    User.objects.filter(agent__pbx__in=pbxs.values()).update(password=hashed)
    boss, _ = User.objects.get_or_create(username="bench-boss", defaults={"is_staff": True})
    boss.groups.add(Group.objects.get(name="Supervisors"))
    return pbxs, AuthToken.objects.create(user=boss)[1]


def token(agent: Agent) -> str:
    return AuthToken.objects.create(user=agent.user)[1]


async def subscribe(port: int, key: str):
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/status/?token={key}", origin=f"http://127.0.0.1:{port}", max_size=None
    )
    snapshot = json.loads(await ws.recv())
    assert snapshot["type"] == "snapshot", snapshot
    return ws


async def seen(ws, extension: str, want) -> float:
    while True:
        msg = json.loads(await ws.recv())
        for doc in msg["agents"]:
            if doc["extension"] == extension and want(doc):
                return time.perf_counter()


def applied(availability: str):
    return lambda doc: doc["availability"] == availability and doc["sync_state"] == "applied"


async def status_changes(port: int, boss: str, agent: Agent, n: int) -> list[float]:
    ws = await subscribe(port, boss)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    key = await asyncio.to_thread(token, agent)
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
    path = f"/api/agents/{agent.extension}/status/"
    times = []
    for i in range(n + 5):
        body = {"status": "on_break", "reason": "Lunch"} if i % 2 == 0 else {"status": "available"}
        start = time.perf_counter()
        waiter = asyncio.ensure_future(seen(ws, agent.extension, applied(body["status"])))
        await asyncio.to_thread(post, conn, path, json.dumps(body), headers, 202)
        end = await asyncio.wait_for(waiter, 10)
        if i >= 5:  # warm-up
            times.append(end - start)
    await ws.close()
    return times


def post(conn, path, body, headers, expect) -> http.client.HTTPResponse:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != expect:
        raise RuntimeError(f"POST {path}: {response.status}")
    return response


def csrf_session(port: int) -> tuple[http.client.HTTPConnection, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/accounts/login/")
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    return conn, cookie


async def sign_ins(port: int, boss: str, agent: Agent, n: int) -> list[float]:
    ws = await subscribe(port, boss)
    times = []
    for i in range(n + 2):
        conn, cookie = await asyncio.to_thread(csrf_session, port)
        body = urllib.parse.urlencode(
            {"username": agent.user.username, "password": PASSWORD, "csrfmiddlewaretoken": cookie.split("=", 1)[1]}
        )
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        start = time.perf_counter()
        waiter = asyncio.ensure_future(seen(ws, agent.extension, applied("available")))
        response = await asyncio.to_thread(post, conn, "/accounts/login/", body, headers, 302)
        end = await asyncio.wait_for(waiter, 10)
        if i >= 2:
            times.append(end - start)
        session = [c for c in response.getheader("Set-Cookie").split(", ") if c.startswith("sessionid=")]
        csrf = cookie.split("=", 1)[1]
        out = {"Cookie": f"{cookie}; {session[0].split(';')[0]}", "Content-Type": "application/x-www-form-urlencoded"}
        waiter = asyncio.ensure_future(seen(ws, agent.extension, applied("logged_out")))
        await asyncio.to_thread(post, conn, "/accounts/logout/", f"csrfmiddlewaretoken={csrf}", out, 302)
        await asyncio.wait_for(waiter, 10)
    await ws.close()
    return times


def password_checks(n: int) -> list[float]:
    hashed = make_password(PASSWORD)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        check_password(PASSWORD, hashed)
        times.append(time.perf_counter() - start)
    return times


async def pbx_round_trips(kind: str, sim: SimulatorThread, extension: str, n: int) -> list[float]:
    """The floor's PBX half: the command Mayday sends, on a raw socket, until its reply."""
    if kind == "asterisk":
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.sim.ami_port)
        await reader.readline()
        writer.write(b"Action: Login\r\nUsername: mayday\r\nSecret: mayday\r\nEvents: off\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        command = f"Action: QueuePause\r\nInterface: PJSIP/{extension}\r\nPaused: false\r\n\r\n".encode()
        end = b"\r\n\r\n"
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.sim.esl_port)
        await reader.readuntil(b"\n\n")
        writer.write(b"auth ClueCon\n\n")
        await reader.readuntil(b"\n\n")
        command = f"api callcenter_config agent set status {extension}@default 'Available'\n\n".encode()
        end = None
    times = []
    for _ in range(n):
        start = time.perf_counter()
        writer.write(command)
        if end:
            await reader.readuntil(end)
        else:
            head = await reader.readuntil(b"\n\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\n")[0])
            await reader.readexactly(length)
        times.append(time.perf_counter() - start)
    writer.close()
    return times


async def ws_round_trips(n: int) -> list[float]:
    """The floor's websocket half: one message of a status document's size, echoed on loopback."""

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    message = json.dumps({"type": "changes", "seq": 1, "agents": [{"extension": "1000", "x": "y" * 600}]})
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:
            times = []
            for _ in range(n):
                start = time.perf_counter()
                await ws.send(message)
                await ws.recv()
                times.append(time.perf_counter() - start)
    return times


async def fan_out(port: int, boss: str, sim: SimulatorThread, n: int, repeats: int) -> list[float]:
    subscribers = []
    for i in range(0, n, 50):  # connect in waves: daphne's accept backlog is finite
        subscribers += await asyncio.gather(*(subscribe(port, boss) for _ in range(min(50, n - i))))
    ami = sim.sim.ami
    member = ami.queues["support"].members["PJSIP/1001"]  # an agent the other measurements leave alone
    times = []
    for i in range(repeats + 2):
        paused = not member.paused
        waits = [
            asyncio.ensure_future(
                seen(
                    ws,
                    "1001",
                    lambda d, p=paused: any(q["queue"] == "support" and q["paused"] == p for q in d["queues"]),
                )
            )
            for ws in subscribers
        ]
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        sim.loop.call_soon_threadsafe(ami.set_paused, "support", member, paused, "Bench" if paused else "")
        ends = await asyncio.wait_for(asyncio.gather(*waits), 30)
        if i >= 2:
            times.append(max(ends) - start)
    await asyncio.gather(*(ws.close() for ws in subscribers))
    return times


async def layer_fan_out(n: int, repeats: int) -> list[float]:
    layer = get_channel_layer()
    group = f"bench{os.getpid()}"
    channels = [await layer.new_channel() for _ in range(n)]
    for channel in channels:
        await layer.group_add(group, channel)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        await layer.group_send(group, {"type": "status.agents", "agents": [{"extension": "1000", "x": "y" * 600}]})
        for channel in channels:
            await layer.receive(channel)
        times.append(time.perf_counter() - start)
    for channel in channels:
        await layer.group_discard(group, channel)
    return times


async def main(args) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    extensions = [str(n) for n in range(1000, 1100)]
    sim = SimulatorThread(ami={"endpoints": extensions}, esl={"agents": extensions})
    pbxs, boss = await asyncio.to_thread(prepare, sim)
    server = Server()
    print(f"status: database {engine}, channel layer {layer}, tasks inline in the web process")
    try:
        ws_floor = await ws_round_trips(args.changes)
        checks = await asyncio.to_thread(password_checks, 20)
        for kind, pbx in pbxs.items():
            agent = await asyncio.to_thread(lambda p=pbx: Agent.objects.select_related("user").filter(pbx=p).first())
            floor = [
                a + b
                for a, b in zip(await pbx_round_trips(kind, sim, agent.extension, args.changes), ws_floor, strict=True)
            ]
            changes = await status_changes(server.port, boss, agent, args.changes)
            print(
                f"  {kind:10s} POST status -> PBX -> board ({len(changes)}): {fmt(changes)} "
                f"| floor (bare {'AMI' if kind == 'asterisk' else 'ESL'} round trip + bare ws message): {fmt(floor)}"
            )
            logins = await sign_ins(server.port, boss, agent, args.sign_ins)
            after = [t - statistics.median(checks) for t in logins]
            print(
                f"  {kind:10s} HTTP sign-in -> PBX -> board ({len(logins)}): {fmt(logins)} "
                f"| password check alone: {fmt(checks)} | after the check: {fmt(after)}"
            )
        for n in args.subscribers:
            try:
                fan = await fan_out(server.port, boss, sim, n, args.repeats)
            except Exception as exc:  # a figure that could not be taken is reported, not hidden
                print(f"  PBX event -> {n:5d} subscribers: FAILED ({type(exc).__name__}: {exc})")
                continue
            bare = await layer_fan_out(n, args.repeats)
            print(
                f"  PBX event -> {n:5d} subscribers, last delivery ({len(fan)}): {fmt(fan)} "
                f"| floor (bare group_send to {n}): {fmt(bare)}"
            )
    finally:
        server.close()
        sim.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--sign-ins", type=int, default=50)
    parser.add_argument("--subscribers", default="100,1000")
    parser.add_argument("--repeats", type=int, default=30)
    options = parser.parse_args()
    options.subscribers = [int(n) for n in options.subscribers.split(",")]
    asyncio.run(main(options))
