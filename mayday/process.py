"""What a long-lived process (the web server, the PBX listener) sets for itself once it has started."""

from __future__ import annotations

import asyncio
import gc
import sys

from django.conf import settings


def settle() -> None:
    """Call once everything the process needs is loaded.

    - Threads hand the interpreter over sooner (settings.MAYDAY_SWITCH_INTERVAL).
    - What is loaded by now (Django, the app: over a hundred thousand objects that live as long as the process)
      is moved out of the garbage collector's reach: each full collection walked all of it, some 80 ms in which
      no websocket is written and no event applied.
    - Young objects are collected every 10,000 allocations, not 700. A change sent to a thousand websockets
      keeps a few objects each alive until they are written; a collection in the middle of that moved them to
      the old generation, and full collections over a thousand connections' objects (100 ms and more) came
      every few seconds. Much more than 10,000 makes each young collection itself a pause (50,000: 10 to 35 ms).
    """
    sys.setswitchinterval(settings.MAYDAY_SWITCH_INTERVAL)
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000)


STOP_RETRY_SECONDS = 0.1


def stop(task: asyncio.Task) -> None:
    """Cancel `task`, again every STOP_RETRY_SECONDS until it has ended. On Python 3.11 a cancellation can be lost:
    asyncio.wait_for returns its result when that result and the cancellation come in the same turn of the loop
    (fixed in 3.12), and redis-py sends every command through it. A task cancelled once could go on waiting on
    Redis for ever."""
    if not task.done():
        task.cancel()
        asyncio.get_running_loop().call_later(STOP_RETRY_SECONDS, stop, task)
