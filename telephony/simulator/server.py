"""What the AMI and ESL sides of the simulator share: a TCP server whose connections are sessions."""

from __future__ import annotations

import asyncio


class SessionServer:
    """Accepts connections and runs one `session_class(server, reader, writer)` per connection."""

    session_class: type

    def __init__(self) -> None:
        self.sessions: set = set()
        self.server: asyncio.AbstractServer | None = None

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
