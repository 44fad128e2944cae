"""What the benchmarks share: a free port, percentiles as they are printed, waiting for a server to answer, and
the bare websocket round trip floors are made of."""

from __future__ import annotations

import gc
import http.client
import socket
import time
from contextlib import contextmanager

import websockets


@contextmanager
def no_collector_pauses():
    """The benchmark's own garbage collections (a full one walks everything it holds: thousands of websocket
    clients) left out of what is timed inside; applied to a figure and its floor alike."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    """The q-quantile of durations in seconds, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def fmt(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):7.2f} ms  p99 {pct(values, 0.99):7.2f} ms"


def wait_until_up(port: int, timeout: float = 30.0) -> None:
    """Until the server on this port answers /healthz."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.2)


async def ws_round_trips(message: str, n: int) -> list[float]:
    """A floor's websocket part: this message sent to a bare echo server on loopback and back, n times."""

    async def echo(ws):
        async for received in ws:
            await ws.send(received)

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
