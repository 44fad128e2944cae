"""Daphne as Mayday runs it: a websocket text message is framed in one step and goes to its socket at once."""

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

    A text message on an open connection without compression or fragmenting (as daphne sets autobahn up), within
    the size limit (daphne's `websocket_max_message_size`, a mebibyte), is one unmasked frame, made here: daphne's
    serverSend and autobahn's sendMessage and sendFrame check, for each of a thousand connections, for cases the
    server never has: a fifth of what a message cost, its socket call included. Anything else goes daphne's way
    (a message over the limit is refused there).
    """

    def handle_reply(self, message: dict) -> None:
        text = message.get("text") if message["type"] == "websocket.send" else None
        payload = text.encode() if text and message.get("bytes") is None else None
        if payload is not None and self._plain(len(payload)):
            self.sendData(text_frame(payload))
        else:
            super().handle_reply(message)

    def _plain(self, size: int) -> bool:
        return (
            self.state == self.STATE_OPEN
            and self._perMessageCompress is None
            and not self.autoFragmentSize
            and not 0 < self.maxMessagePayloadSize < size
        )

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        if not sync and not chopsize and not self.send_queue and _idle(self.transport):
            sent = self.transport.writeSomeData(data)  # bytes taken, or the error (a ConnectionLost) Twisted returns
            if isinstance(sent, int) and sent > 0:
                if sent == len(data):
                    return
                data = data[sent:]
        super().sendData(data, sync, chopsize)


def text_frame(payload: bytes) -> bytes:
    """A whole text message as a server sends it (RFC 6455, 5.2): FIN and opcode 1, the length, the UTF-8 payload."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return bytes((0x81, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + size.to_bytes(8, "big") + payload


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
