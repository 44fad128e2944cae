"""Live status: how long from a status change to the board, and from a PBX event to every subscriber?

1. Status change to board: an authenticated `POST /api/agents/{ext}/status/`
   (alternating on_break / available) to a real `manage.py serve`; the PBX
   command reaches the simulator; a websocket subscriber sees the new
   availability confirmed (`sync_state` applied). Floor: one bare PBX command
   round trip (the same command bytes on a raw socket) plus one bare websocket
   message round trip (a `websockets` echo server), in the same run. Each
   change is timed on its own: the next starts once the board has been
   quiet for 0.1 s (the PBX's events about the last one applied). Beside
   it, the database queries one change costs, counted in-process: the
   request, the PBX command, and applying the PBX's events.
2. Sign-in to board: the login form (password check, PBX command, board).
   The web process times each password check it makes (bench/timed_serve.py),
   and each sign-in is also given less the check made inside it.
3. PBX event to N subscribers: one member pause at the simulator; the time
   until the frame carrying it reaches the last of N websocket subscribers
   of one web process (read bare: `Arrivals`). Floor: a bare channel layer
   `group_send` to N channels until the last has it, taken after each pause
   (in turns, so both meet the same moments of a noisy machine). With
   Redis, also 10,000 subscribers spread over 4 web processes.
4. The web process's resident memory idle, with the subscribers connected,
   and after 100,000 changes reached them; and the database connections it
   holds.

    python bench/status.py [--changes 200] [--sign-ins 100] [--subscribers 100,1000] [--spread 10000] [--churn 100000]
                           [--repeats 100]
    (uses DATABASE_URL / REDIS_URL like the app)
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import threading
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
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from agents.models import Agent  # noqa: E402
from bench.common import fmt, free_port, no_collector_pauses, wait_until_up, ws_round_trips  # noqa: E402
from bench.ingest import setup_pbx  # noqa: E402
from telephony.models import PbxServer  # noqa: E402
from telephony.simulator.runner import SimulatorThread  # noqa: E402

PASSWORD = "bench-password-1234"
HASH_LOG = ROOT / "bench-hash.log"  # where the web processes write how long each password check took
SERVER_LOG = ROOT / "bench-server.log"  # what the web processes and the listener log (warnings and worse)
AGENT_OF_STATUS_SIZE = {"extension": "1000", "x": "y" * 600}  # what a floor sends: as big as a status document


class SimulatorProcess:
    """The bundled PBX simulator in a process of its own, as a PBX is: its work (answering a reconciliation's
    QueueStatus every 15 s) never takes this process's interpreter from the readers it times. Its AMI side is
    told what to do through a pipe: a member paused by the PBX itself, raw events sent to every listener."""

    def __init__(self, **options) -> None:
        context = multiprocessing.get_context("spawn")
        self.orders, theirs = context.Pipe()
        self.process = context.Process(target=simulate, args=(theirs, options), daemon=True)
        self.process.start()
        self.ami_port, self.esl_port = self.orders.recv()

    def pause(self, queue: str, interface: str, paused: bool, reason: str) -> None:
        self.orders.send(("pause", queue, interface, paused, reason))

    def emit_raw(self, data: bytes) -> None:
        self.orders.send(("emit", data))

    def close(self) -> None:
        self.orders.send(None)
        self.process.join(10)


def simulate(orders, options: dict) -> None:
    """A SimulatorProcess's own side: the simulator, and the orders carried out on its loop as they come."""
    sim = SimulatorThread(**options)
    orders.send((sim.sim.ami_port, sim.sim.esl_port))
    ami = sim.sim.ami
    while (order := orders.recv()) is not None:
        if order[0] == "pause":
            queue, interface, paused, reason = order[1:]
            sim.loop.call_soon_threadsafe(ami.set_paused, queue, ami.queues[queue].members[interface], paused, reason)
        else:
            sim.loop.call_soon_threadsafe(ami.emit_raw, order[1])
    sim.close()


class Server:
    """`webs` web processes (bench/timed_serve.py: `manage.py serve`, timing password checks) on free ports, and
    when the channel layer is Redis, `pbx_listen` beside them."""

    def __init__(self, webs: int = 1) -> None:
        HASH_LOG.write_text("")
        env = {
            **os.environ,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "MAYDAY_LOG_LEVEL": "WARNING",
            "MAYDAY_BENCH_HASH_LOG": str(HASH_LOG),
        }
        self.ports = [free_port() for _ in range(webs)]
        self.port = self.ports[0]
        python = sys.executable
        out = {"stdout": subprocess.DEVNULL, "stderr": SERVER_LOG.open("a")}
        self.webs = [
            subprocess.Popen([python, "bench/timed_serve.py", "--port", str(port)], cwd=ROOT, env=env, **out)
            for port in self.ports
        ]
        self.procs = list(self.webs)
        if settings.REDIS_URL:
            self.procs.append(subprocess.Popen([python, "manage.py", "pbx_listen"], cwd=ROOT, env=env, **out))
        for port in self.ports:
            wait_until_up(port)
        time.sleep(1.5)  # the listener connects and resyncs

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)  # daphne gives open connections 10 s to close
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def database_connections(pid: int) -> int:
    """Connections the process holds to the database: its MariaDB sockets, or its handles on the SQLite database
    file (SQLite keeps the handle of a connection closed while another connection of the process holds a lock,
    and reuses it: a handle or two more than the connections open)."""
    fds = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            fds.append(os.readlink(fd))
        except OSError:
            pass  # closed meanwhile
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return sum(target == str(db["NAME"]) for target in fds)
    port = int(db.get("PORT") or 3306)
    inodes = {target[8:-1] for target in fds if target.startswith("socket:[")}
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                held += 1
    return held


def prepare(sim: SimulatorProcess) -> tuple[dict[str, PbxServer], str]:
    call_command("migrate", verbosity=0)
    if settings.REDIS_URL:  # the benchmark's own Redis database: no group members left by an earlier run
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    PbxServer.objects.exclude(name__startswith="bench-").update(enabled=False)
    pbxs = {kind: setup_pbx(kind, port) for kind, port in (("asterisk", sim.ami_port), ("freeswitch", sim.esl_port))}
    PbxServer.objects.filter(pk__in=[p.pk for p in pbxs.values()]).update(enabled=True)
    User = get_user_model()
    hashed = make_password(PASSWORD)
    User.objects.filter(agent__pbx__in=pbxs.values()).update(password=hashed)
    AuthToken.objects.filter(user__username__startswith="bench").delete()  # an earlier run's
    boss, _ = User.objects.get_or_create(username="bench-boss", defaults={"is_staff": True})
    boss.groups.add(Group.objects.get(name="Supervisors"))
    return pbxs, AuthToken.objects.create(user=boss)[1]


def token(agent: Agent) -> str:
    return AuthToken.objects.create(user=agent.user)[1]


async def subscribe(port: int, key: str):
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/status/?token={key}",
        origin=f"http://127.0.0.1:{port}",
        max_size=None,
        ping_interval=None,  # no keepalive traffic in what is timed
    )
    snapshot = json.loads(await ws.recv())
    assert snapshot["type"] == "snapshot", snapshot
    ws.docs = {doc["extension"]: doc for doc in snapshot["agents"]}  # what `seen` applies changes to
    return ws


async def seen(ws, extension: str, want) -> float:
    """When this subscriber has `extension` in a state `want` accepts: each change applied to what it had, as
    the pages merge them (a change carries the fields that changed)."""
    while True:
        if want(merged(ws, await ws.recv()).get(extension, {})):
            return time.perf_counter()


def merged(ws, message: str) -> dict:
    """The subscriber's documents, with the changes of this message applied."""
    for doc in json.loads(message)["agents"]:
        ws.docs[doc["extension"]] = {**ws.docs.get(doc["extension"], {}), **doc}
    return ws.docs


def applied(availability: str):
    return lambda doc: doc["availability"] == availability and doc["sync_state"] == "applied"


async def quiet(ws, seconds: float = 0.1) -> None:
    """Until the board has had nothing new for `seconds` (what the PBX's events about the last change brought
    included): each change is timed on its own, not while the one before is still being applied."""
    while True:
        try:
            merged(ws, await asyncio.wait_for(ws.recv(), seconds))
        except TimeoutError:
            return


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
        await quiet(ws)
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


def hash_times() -> list[float]:
    return [float(line) for line in HASH_LOG.read_text().split()]


async def sign_ins(port: int, boss: str, agent: Agent, n: int) -> tuple[list[float], list[float], list[float]]:
    """Each sign-in's time to the board, the password check made inside it, and the one less the other."""
    ws = await subscribe(port, boss)
    times, checks, after = [], [], []
    for i in range(n + 2):
        conn, cookie = await asyncio.to_thread(csrf_session, port)
        body = urllib.parse.urlencode(
            {"username": agent.user.username, "password": PASSWORD, "csrfmiddlewaretoken": cookie.split("=", 1)[1]}
        )
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        before = len(hash_times())
        start = time.perf_counter()
        waiter = asyncio.ensure_future(seen(ws, agent.extension, applied("available")))
        response = await asyncio.to_thread(post, conn, "/accounts/login/", body, headers, 302)
        end = await asyncio.wait_for(waiter, 10)
        check = sum(hash_times()[before:])
        if i >= 2:
            times.append(end - start)
            checks.append(check)
            after.append(end - start - check)
        session = [c for c in response.getheader("Set-Cookie").split(", ") if c.startswith("sessionid=")]
        csrf = cookie.split("=", 1)[1]
        out = {"Cookie": f"{cookie}; {session[0].split(';')[0]}", "Content-Type": "application/x-www-form-urlencoded"}
        waiter = asyncio.ensure_future(seen(ws, agent.extension, applied("logged_out")))
        await asyncio.to_thread(post, conn, "/accounts/logout/", f"csrfmiddlewaretoken={csrf}", out, 302)
        await asyncio.wait_for(waiter, 10)
        await quiet(ws)
    await ws.close()
    return times, checks, after


def queries_per_change(pbx: PbxServer, agent: Agent, n: int = 20) -> dict[str, float]:
    """The database queries of one status change, counted in this process by the thread that made them: the
    request (the whole middleware stack, through Django's test client), the PBX command (inline, on its lane)
    and the PBX's events (applied by a listener stream on a loop of this process)."""
    from django.db.backends.utils import CursorWrapper
    from django.test import Client

    from bench.ingest import Loop, wait
    from telephony.pbx.listener import Stream

    counts, requester, quiet = {"request": 0, "command": 0, "events": 0}, threading.current_thread(), threading.local()
    execute = CursorWrapper._execute_with_wrappers

    def counted(self, sql, params, many, executor):  # every query of every thread and connection of this process
        thread = threading.current_thread()
        if not getattr(quiet, "on", False):
            phase = "request" if thread is requester else "command" if thread.name.startswith("pbx-lane") else "events"
            counts[phase] += 1
        return execute(self, sql, params, many, executor)

    loop = Loop()
    stream = Stream(pbx, ping_every=3600)
    task = asyncio.run_coroutine_threadsafe(stream.run(), loop.loop)
    wait(lambda: stream.resyncs == 1 and stream.queue.empty(), 30)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token(agent)}")
    path = f"/api/agents/{agent.extension}/status/"
    CursorWrapper._execute_with_wrappers = counted
    try:
        for i in range(n + 1):
            if i == 1:  # the first opened the connections: from here on, only what a change costs
                counts.update(dict.fromkeys(counts, 0))
            body = {"status": "on_break", "reason": "Lunch"} if i % 2 == 0 else {"status": "available"}
            response = client.post(path, body, content_type="application/json")
            assert response.status_code == 202, response.content
            quiet.on = True
            wait(lambda: Agent.objects.get(pk=agent.pk).sync_state == "applied", 10)
            settled = -1
            while settled != sum(counts.values()):  # until the PBX's events stop coming
                settled = sum(counts.values())
                time.sleep(0.2)
            quiet.on = False
    finally:
        CursorWrapper._execute_with_wrappers = execute
        task.cancel()
    return {phase: total / n for phase, total in counts.items()}


async def pbx_round_trips(kind: str, sim: SimulatorProcess, extension: str, n: int) -> list[float]:
    """The floor's PBX half: the command Mayday sends, on a raw socket, until its reply."""
    if kind == "asterisk":
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.ami_port)
        await reader.readline()
        writer.write(b"Action: Login\r\nUsername: mayday\r\nSecret: mayday\r\nEvents: off\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        command = f"Action: QueuePause\r\nInterface: PJSIP/{extension}\r\nPaused: false\r\n\r\n".encode()
        end = b"\r\n\r\n"
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.esl_port)
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


async def connect_many(ports: list[int], boss: str, n: int) -> list:
    """n subscribers, spread evenly over the web processes, connected in waves (an accept backlog is finite)."""
    subscribers = []
    for i in range(0, n, 50):
        subscribers += await asyncio.gather(
            *(subscribe(ports[(i + j) % len(ports)], boss) for j in range(min(50, n - i)))
        )
    return subscribers


class Arrivals(asyncio.Protocol):
    """A subscriber's socket once its snapshot is in, taken over from the websocket client: it reads the frames
    as they come, answers the server's pings, and notes when a text frame carrying the awaited marker arrives.
    The client's own work on a change (a browser's, on its own machine) is left out of what the server is timed
    for: a thousand full clients in this one process would time mostly themselves."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport, self.buffer, self.marker, self.arrived = transport, b"", b"", None
        transport.set_protocol(self)

    def expect(self, marker: str) -> asyncio.Future:
        self.marker = marker.encode()
        self.arrived = asyncio.get_running_loop().create_future()
        return self.arrived

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 2:
            opcode, size, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if size >= 126:  # a server's frames are never masked
                start = 4 if size == 126 else 10
                if len(self.buffer) < start:
                    return
                size = int.from_bytes(self.buffer[2:start], "big")
            if len(self.buffer) < start + size:
                return
            payload, self.buffer = self.buffer[start : start + size], self.buffer[start + size :]
            if opcode == 0x9:  # ping: a pong, masked (all zero mask: the payload as it is) as a client's must be
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode == 0x1 and self.marker and self.marker in payload:
                self.marker = b""
                self.arrived.set_result(time.perf_counter())

    def connection_lost(self, exc) -> None:
        if self.arrived is not None and not self.arrived.done():
            self.arrived.set_exception(ConnectionError("the server closed a subscriber"))


async def fan_out(subscribers: list, sim: SimulatorProcess, repeats: int) -> tuple[list[float], list[float]]:
    """One member pause at the simulator, until the last subscriber has it; and after each, its floor: a bare
    channel layer `group_send` to as many channels of this process, until the last has it. Taken in turns, the
    figure and its floor meet the machine in the same moments (a busy neighbour slows both alike). Each pause has
    a reason of its own, so no subscriber can take an earlier change for it; and it is lifted once timed
    (untimed), or the agent, paused in one of its two queues, would stay at odds with what Mayday asks, and the
    reconciliation's repair would be a second fan-out that a timed one could run into. The floor is timed once
    that lifting has passed too. The subscribers are taken over by `Arrivals` (closed with their transports).
    Returns the figures and the floors."""
    sockets = [Arrivals(ws.transport) for ws in subscribers]
    times, floors = [], []
    async with BareGroup(len(sockets)) as bare:
        for i in range(repeats + 2):
            reason = f"Bench {i} {time.monotonic_ns()}"
            arrivals = [s.expect(reason) for s in sockets]
            await asyncio.sleep(0.05)
            with no_collector_pauses():
                start = time.perf_counter()
                sim.pause("support", "PJSIP/1001", True, reason)  # an agent the other measurements leave alone
                ends = await asyncio.wait_for(asyncio.gather(*arrivals), 120)
            sim.pause("support", "PJSIP/1001", False, "")
            await asyncio.sleep(len(sockets) * 100e-6)  # its own fan-out passes
            floor = await bare.send()
            if i >= 2:
                times.append(max(ends) - start)
                floors.append(floor)
    for s in sockets:
        s.transport.close()
    return times, floors


class BareGroup:
    """A fan-out's floor: n channels of this process's channel layer, in a group of their own."""

    def __init__(self, n: int) -> None:
        self.n, self.group, self.channels = n, f"bench{os.getpid()}", []

    async def __aenter__(self) -> BareGroup:
        self.layer = get_channel_layer()
        self.channels = [await self.layer.new_channel() for _ in range(self.n)]
        for channel in self.channels:
            await self.layer.group_add(self.group, channel)
        return self

    async def send(self) -> float:
        """One message as big as a status change, until every channel has received it."""
        with no_collector_pauses():
            start = time.perf_counter()
            await self.layer.group_send(self.group, {"type": "status.agents", "agents": [AGENT_OF_STATUS_SIZE]})
            for channel in self.channels:
                await self.layer.receive(channel)
            return time.perf_counter() - start

    async def __aexit__(self, *exc) -> None:
        for channel in self.channels:
            await self.layer.group_discard(self.group, channel)


async def churn(subscribers: list, sim: SimulatorProcess, changes: int, web: int) -> tuple[int, list[float]]:
    """Bursts of PBX events (queue members paused and unpaused, all 100 memberships of the Asterisk agents) until
    the first subscriber has been sent `changes` agent changes. The listener applies what arrived meanwhile as
    one batch, one change per agent however many of its events it holds. Returns the events sent, and the web
    process's resident memory (MB) at the start and after each fifth of the changes."""
    from telephony.simulator.firehose import ami_firehose

    extensions = [str(n) for n in range(1000, 1050)]
    bursts = [ami_firehose({"support": extensions, "sales": extensions}, 200, seed=i)[0] for i in range(20)]
    counted, sent, memory = 0, 0, [resident_mb(web)]

    async def read(ws, first: bool) -> None:
        nonlocal counted
        while True:
            msg = await ws.recv()
            if first:
                counted += len(json.loads(msg)["agents"])

    readers = [asyncio.ensure_future(read(ws, ws is subscribers[0])) for ws in subscribers]
    try:
        while counted < changes:
            sim.emit_raw(bursts[sent // 200 % len(bursts)])
            sent += 200
            await asyncio.sleep(0.01)
            if counted >= len(memory) * changes / 5:
                memory.append(resident_mb(web))
    finally:
        for reader in readers:
            reader.cancel()
    if len(memory) < 6:
        memory.append(resident_mb(web))
    return sent, memory


async def main(args) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    extensions = [str(n) for n in range(1000, 1100)]
    sim = SimulatorProcess(ami={"endpoints": extensions}, esl={"agents": extensions})
    pbxs, boss = await asyncio.to_thread(prepare, sim)
    print(f"status: database {engine}, channel layer {layer}, tasks inline in the web process")
    for kind, pbx in pbxs.items():
        agent = await asyncio.to_thread(lambda p=pbx: Agent.objects.select_related("user").filter(pbx=p).first())
        queries = await asyncio.to_thread(queries_per_change, pbx, agent)
        print(
            f"  {kind:10s} queries per change: request {queries['request']:.1f}, PBX command {queries['command']:.1f}, "
            f"PBX events {queries['events']:.1f}, in all {sum(queries.values()):.1f}"
        )
    server = Server()
    web = server.webs[0].pid
    try:
        document = {"type": "changes", "seq": 1, "agents": [AGENT_OF_STATUS_SIZE]}
        ws_floor = await ws_round_trips(json.dumps(document), args.changes)
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
            logins, checks, after = await sign_ins(server.port, boss, agent, args.sign_ins)
            print(
                f"  {kind:10s} HTTP sign-in -> PBX -> board ({len(logins)}): {fmt(logins)} "
                f"| its password check: {fmt(checks)} | the sign-in less its check: {fmt(after)}"
            )
        idle = resident_mb(web)
        print(f"  web process: {idle:.0f} MB resident, {database_connections(web)} database connection(s) held")
        for n in args.subscribers:
            try:
                subscribers = await connect_many(server.ports, boss, n)
                held = resident_mb(web)
                fan, bare = await fan_out(subscribers, sim, args.repeats)
            except Exception as exc:  # a figure that could not be taken is reported, not hidden
                print(f"  PBX event -> {n:5d} subscribers: FAILED ({type(exc).__name__}: {exc})")
                continue
            print(
                f"  PBX event -> {n:5d} subscribers, last delivery ({len(fan)}): {fmt(fan)} "
                f"| floor (bare group_send to {n}): {fmt(bare)} | web process {held:.0f} MB resident with them"
            )
        subscribers = await connect_many(server.ports, boss, 100)
        events, memory = await churn(subscribers, sim, args.churn, web)
        await asyncio.gather(*(ws.close() for ws in subscribers))
        print(
            f"  web process over {args.churn:,} changes to 100 subscribers ({events:,} PBX events), MB resident "
            f"at each fifth: {' / '.join(f'{mb:.0f}' for mb in memory)} (last fifth {memory[-1] - memory[-2]:+.0f} MB) "
            f"| {database_connections(web)} database connection(s) held"
        )
    finally:
        server.close()
    if settings.REDIS_URL and args.spread:  # several web processes: one layer message each, fanned out inside
        await spread(boss, sim, args.spread, args.repeats)
    sim.close()
    print(f"  (the servers' warnings, if any: {SERVER_LOG})")


async def spread(boss: str, sim: SimulatorProcess, n: int, repeats: int) -> None:
    server = Server(webs=4)
    try:
        subscribers = await connect_many(server.ports, boss, n)
        held = [resident_mb(proc.pid) for proc in server.webs]
        fan, bare = await fan_out(subscribers, sim, repeats)
        print(
            f"  PBX event -> {n:5d} subscribers over 4 web processes, last delivery ({len(fan)}): {fmt(fan)} "
            f"| floor (bare group_send to {n}): {fmt(bare)} "
            f"| web processes {' / '.join(f'{mb:.0f}' for mb in held)} MB resident with them"
        )
    except Exception as exc:  # a figure that could not be taken is reported, not hidden
        print(f"  PBX event -> {n:5d} subscribers over 4 web processes: FAILED ({type(exc).__name__}: {exc})")
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=200)
    # At least 100 of each: fewer, and the p99 printed would be the slowest of them (see bench.common.pct).
    parser.add_argument("--sign-ins", type=int, default=100)
    parser.add_argument("--subscribers", default="100,1000")
    parser.add_argument("--spread", type=int, default=10_000, help="subscribers over 4 web processes (Redis; 0: none)")
    parser.add_argument("--churn", type=int, default=100_000, help="changes before the memory is read again")
    parser.add_argument("--repeats", type=int, default=100)
    options = parser.parse_args()
    options.subscribers = [int(n) for n in options.subscribers.split(",")]
    asyncio.run(main(options))
