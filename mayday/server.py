"""Daphne as Mayday runs it: a websocket frame goes to its socket at once."""

from __future__ import annotations

from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import tcp


class PromptWebSocketProtocol(WebSocketProtocol):
    """Daphne's websocket protocol, writing each frame to the socket at once when nothing is waiting to be written.

    Twisted keeps every write until the next turn of the event loop, and registers the socket for writing and
    unregisters it again (two epoll_ctl calls) for each one. That was most of what a change fanned out to a thousand
    sockets cost, and no socket had its frame before every socket had been handed its own. What the socket does not
    take at once, or anything sent while a write waits, goes Twisted's way, after what is waiting; so does a write
    that fails, and Twisted finds the lost connection as it always does.
    """

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        if not sync and not chopsize and not self.send_queue and _idle(self.transport):
            sent = self.transport.writeSomeData(data)  # bytes taken, or the error (a ConnectionLost) Twisted returns
            if isinstance(sent, int) and sent > 0:
                if sent == len(data):
                    return
                data = data[sent:]
        super().sendData(data, sync, chopsize)


def _idle(transport) -> bool:
    """An open plain TCP connection with nothing waiting to be written (Twisted's two write buffers empty)."""
    return (
        isinstance(transport, tcp.Connection)
        and not transport.TLS
        and transport.connected
        and not transport.disconnecting
        and not transport.dataBuffer
        and not transport._tempDataBuffer
    )
