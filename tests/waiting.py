"""Waiting for something another thread or process does (a listener, a lane, a simulator)."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float = 10.0, what: str = "condition"):
    """The first truthy result of `condition()`, asked every 50 ms; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def lanes_idle() -> None:
    """Every inline PBX command queued so far has run: what earlier steps left on the lanes is out of the way."""
    from telephony import tasks

    for lane in tasks.LANES.threads:
        lane.submit(lambda: None).result(timeout=60)
