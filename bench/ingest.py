"""Event ingestion: the simulator fires a burst of PBX events at the listener; how fast is it all applied?

Figure: end-to-end events/s from the first byte sent to the last member state
written to the database (and broadcast), for AMI and ESL. Floor: the same
bytes, from the same simulator, read and split into frames by a bare asyncio
reader in the same run. Afterwards every member's last state is checked
against what the burst ended with: coalescing may skip states, never the last.

    python bench/ingest.py [--events 100000]     (uses DATABASE_URL / REDIS_URL like the app)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from agents.models import Agent, Availability  # noqa: E402
from telephony.models import PbxServer, Queue, QueueMembership  # noqa: E402
from telephony.pbx.base import Seat, backend_for  # noqa: E402
from telephony.pbx.listener import Stream  # noqa: E402
from telephony.simulator.firehose import ami_firehose, esl_firehose  # noqa: E402
from telephony.simulator.runner import SimulatorThread  # noqa: E402

AGENTS = 50
QUEUES = ["support", "sales"]


class Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro, timeout=600):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def setup_pbx(kind: str, port: int) -> PbxServer:
    """The benchmark's PBX of this kind, at the simulator's AMI or ESL port, with its agents in its queues."""
    from django.contrib.auth import get_user_model

    name = f"bench-{kind}"
    fields = (
        {"port": port, "username": "mayday", "secret": "mayday", "domain": ""}
        if kind == "asterisk"
        else {"port": port, "username": "", "secret": "ClueCon", "domain": "default"}
    )
    pbx, _ = PbxServer.objects.update_or_create(name=name, defaults={"kind": kind, "host": "127.0.0.1", **fields})
    strategy = "ringall" if kind == "asterisk" else "top-down"
    queues = [Queue.objects.update_or_create(pbx=pbx, name=q, defaults={"strategy": strategy})[0] for q in QUEUES]
    base = 1000 if kind == "asterisk" else 1050
    with backend_for(pbx) as backend:
        for i in range(AGENTS):
            ext = str(base + i)
            user, _ = get_user_model().objects.get_or_create(username=f"bench{ext}")
            agent, _ = Agent.objects.update_or_create(
                extension=ext,
                defaults={
                    "user": user,
                    "display_name": f"Agent {ext}",
                    "pbx": pbx,
                    "availability": Availability.AVAILABLE,
                },
            )
            for queue in queues:
                QueueMembership.objects.get_or_create(agent=agent, queue=queue)
            backend.set_availability(
                extension=ext,
                name=f"Agent {ext}",
                availability=Availability.AVAILABLE,
                reason="",
                queues=[Seat(q) for q in QUEUES],
            )
    return pbx


async def floor(host: str, port: int, login: bytes, separator: bytes, frames: int, fire) -> float:
    """Bare asyncio reader: log in, then count frames as the burst arrives."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(login)
    await asyncio.sleep(0.3)
    await reader.read(65536)  # banner / login replies
    count, tail = 0, b""
    start = time.perf_counter()
    fire()
    while count < frames:
        data = await reader.read(1 << 20)
        chunk = tail + data
        parts = chunk.split(separator)
        tail = parts.pop()
        count += len(parts)
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed


def wait(condition, timeout=600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish")
        time.sleep(0.002)


def run(kind: str, n: int, sim: SimulatorThread, loop: Loop) -> dict:
    pbx = setup_pbx(kind, sim.sim.ami_port if kind == "asterisk" else sim.sim.esl_port)
    extensions = list(Agent.objects.filter(pbx=pbx).values_list("extension", flat=True))
    if kind == "asterisk":
        data, relevant, final = ami_firehose({q: extensions for q in QUEUES}, n)
        server = sim.sim.ami
        login = b"Action: Login\r\nUsername: mayday\r\nSecret: mayday\r\nEvents: on\r\n\r\n"
        port, separator, frames = sim.sim.ami_port, b"\r\n\r\n", n
    else:
        data, relevant, final = esl_firehose(sim.sim.esl, extensions, n)
        server = sim.sim.esl
        login = b"auth ClueCon\n\nevent plain CUSTOM callcenter::info\n\n"
        # Each event is a header block and a body that ends in a blank line: two separators per frame.
        port, separator, frames = sim.sim.esl_port, b"\n\n", 2 * n

    # Floor: the same bytes to a bare reader.
    fire = lambda: sim.loop.call_soon_threadsafe(server.emit_raw, data)  # noqa: E731
    floor_s = loop.run(floor("127.0.0.1", port, login, separator, frames, fire))

    # Mayday's listener: connect and resync, then the same burst.
    stream = Stream(pbx, ping_every=3600)
    task = asyncio.run_coroutine_threadsafe(stream.run(), loop.loop)
    wait(lambda: stream.resyncs == 1 and stream.queue.empty(), 30)
    time.sleep(0.5)
    start_applied = stream.applied
    start = time.perf_counter()
    fire()
    wait(lambda: stream.applied - start_applied >= relevant)
    elapsed = time.perf_counter() - start
    task.cancel()

    rows = QueueMembership.objects.filter(queue__pbx=pbx).select_related("queue", "agent")
    if kind == "asterisk":
        got = {(m.queue.name, m.agent.extension): (m.paused, m.pause_reason) for m in rows}
        lost = [k for k, (paused, reason, _) in final.items() if got[k] != (paused, reason)]
    else:
        statuses = dict(Agent.objects.filter(pbx=pbx).values_list("extension", "pbx_status"))
        lost = [ext for ext, status in final.items() if statuses[ext] != status]
    return {
        "kind": kind,
        "events": n,
        "relevant": relevant,
        "seconds": elapsed,
        "floor_seconds": floor_s,
        "lost": len(lost),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    extensions = [str(n) for n in range(1000, 1100)]
    sim = SimulatorThread(ami={"endpoints": extensions}, esl={"agents": extensions})
    loop = Loop()
    # The PBXs of an earlier run point at that run's simulator: moved to this one's before any agent is saved
    # (saving an agent pushes routing data to every enabled PBX).
    PbxServer.objects.filter(name="bench-asterisk").update(port=sim.sim.ami_port)
    PbxServer.objects.filter(name="bench-freeswitch").update(port=sim.sim.esl_port)
    print(f"ingest: {args.events} events per PBX, ~25% about queue members; database {engine}, channel layer {layer}")
    for kind in ("asterisk", "freeswitch"):
        r = run(kind, args.events, sim, loop)
        rate, floor_rate = r["events"] / r["seconds"], r["events"] / r["floor_seconds"]
        print(
            f"  {kind:10s} listener {rate:9,.0f} events/s ({r['relevant'] / r['seconds']:8,.0f} relevant/s) "
            f"| floor (bare asyncio reader) {floor_rate:10,.0f} events/s | ratio {floor_rate / rate:5.1f}x "
            f"| last state lost: {r['lost']}"
        )
    sim.close()


if __name__ == "__main__":
    main()
