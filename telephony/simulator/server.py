"""What the AMI and ESL sides of the simulator share: a TCP server whose connections are sessions."""

from __future__ import annotations

import asyncio


class SessionServer:
    """Accepts connections and runs one `session_class(server, reader, writer)` per connection."""

    session_class: type

    def __init__(self) -> None:
        self.sessions: set = set()
        self.server: asyncio.AbstractServer | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    def later(self, delay: float, fn, *args) -> None:
        """Call `fn(*args)` after `delay` seconds, unless the PBX restarts first (`cancel_timers`)."""

        def fire() -> None:
            self._timers.discard(timer)
            fn(*args)

        timer = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(timer)

    def cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            for session in list(self.sessions):
                session.writer.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = self.session_class(self, reader, writer)
        self.sessions.add(session)
        try:
            await session.run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.sessions.discard(session)
            writer.close()
