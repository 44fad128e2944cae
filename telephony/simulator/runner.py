"""Run the simulator's AMI and ESL servers together, in this event loop or a background thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from telephony.simulator.activity import Activity
from telephony.simulator.ami import AmiServer
from telephony.simulator.esl import EslServer


class Simulator:
    """Both PBXs on loopback. `rate` > 0 adds scripted callers and phones (the demo); 0 keeps it still (tests)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        ami_port: int = 15038,
        esl_port: int = 18021,
        rate: float = 0.0,
        seed: int | None = None,
        ami: dict | None = None,
        esl: dict | None = None,
    ) -> None:
        self.host, self.ami_port, self.esl_port = host, ami_port, esl_port
        self.ami = AmiServer(**(ami or {}))
        self.esl = EslServer(**(esl or {}))
        self.activity = Activity(self.ami, self.esl, rate=rate, seed=seed) if rate > 0 else None
        self._activity_task: asyncio.Task | None = None

    async def start(self) -> None:
        self.ami_port = await self.ami.start(self.host, self.ami_port)
        self.esl_port = await self.esl.start(self.host, self.esl_port)
        if self.activity:
            self._activity_task = asyncio.get_running_loop().create_task(self.activity.run())

    async def stop(self) -> None:
        if self._activity_task:
            self._activity_task.cancel()
            self.activity.stop()
            self._activity_task = None
        await self.ami.stop()
        await self.esl.stop()

    async def restart(self, *, pause: float = 0.0) -> None:
        """Like a PBX restart: connections drop, run-time state is lost, the same ports come back."""
        await self.stop()
        self.ami.reset()
        self.esl.reset()
        await asyncio.sleep(pause)
        await self.start()


class SimulatorThread:
    """A Simulator on its own event loop in a daemon thread (tests and benchmarks)."""

    def __init__(self, **options) -> None:
        options.setdefault("ami_port", 0)
        options.setdefault("esl_port", 0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pbx-simulator", daemon=True)
        self.thread.start()
        self.sim = self.run(self._make, options)
        self.run(self.sim.start)

    @staticmethod
    async def _finish() -> None:
        """Every task still on the loop (a session whose connection is closing) ended, not left to the collector."""
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _make(options: dict) -> Simulator:
        return Simulator(**options)

    def run(self, fn: Callable[..., Any], *args) -> Any:
        """Run `fn(*args)` (a coroutine function or a plain one) on the simulator's loop and return its result."""

        async def call():
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=30)

    def close(self) -> None:
        self.run(self.sim.stop)
        self.run(self._finish)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()
