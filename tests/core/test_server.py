"""Websocket frames as `manage.py serve` writes them (mayday.server): on the socket at once when nothing waits, and
whatever the socket cannot take yet kept, in order, with what comes after it. Real sockets on loopback, written
by a Twisted TCP connection on an event loop of the test's own."""

from __future__ import annotations

import asyncio
import socket
from collections import deque

import pytest
from autobahn.websocket.protocol import TrafficStats, WebSocketProtocol
from twisted.internet import tcp
from twisted.internet.asyncioreactor import AsyncioSelectorReactor

from mayday.server import PromptWebSocketProtocol


@pytest.fixture
def connection():
    """(the protocol writing on the server's end, the client's socket, the loop that runs Twisted's writes). Both
    ends keep small buffers, so a few hundred kilobytes are more than the socket takes at once."""
    loop = asyncio.new_event_loop()
    reactor = AsyncioSelectorReactor(loop)
    listening = socket.create_server(("127.0.0.1", 0))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(listening.getsockname())
    client.setblocking(False)
    sock, address = listening.accept()
    listening.close()
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    protocol = PromptWebSocketProtocol()  # open, as after its handshake
    protocol.state, protocol.trafficStats, protocol.send_queue, protocol.logOctets = (
        WebSocketProtocol.STATE_OPEN,
        TrafficStats(),
        deque(),
        False,
    )
    protocol.transport = tcp.Server(sock, protocol, address, None, 1, reactor)
    yield protocol, client, loop
    client.close()
    sock.close()
    loop.close()


def read(client: socket.socket, loop: asyncio.AbstractEventLoop, size: int) -> bytes:
    """`size` bytes from the client's socket, while the loop runs Twisted's pending writes."""

    async def reading() -> bytes:
        data = b""
        while len(data) < size:
            try:
                data += client.recv(65536)
            except BlockingIOError:
                await asyncio.sleep(0.001)
        return data

    return loop.run_until_complete(asyncio.wait_for(reading(), 10))


def test_a_frame_is_on_the_socket_when_sent_without_waiting_for_the_event_loop(connection):
    protocol, client, _ = connection
    protocol.sendData(b"\x81\x05hello")
    assert client.recv(100) == b"\x81\x05hello"  # the loop never ran
    assert not protocol.transport.dataBuffer and not protocol.transport._tempDataBuffer


def test_what_the_socket_cannot_take_yet_is_kept_and_later_frames_follow_it_in_order(connection):
    protocol, client, loop = connection
    frames = [bytes([n]) * 100_000 for n in range(5)]
    for frame in frames:
        protocol.sendData(frame)
    assert protocol.transport._tempDataBuffer, "the socket took it all: the test would not reach the buffered path"
    protocol.sendData(b"last")
    assert read(client, loop, 500_004) == b"".join(frames) + b"last"
    protocol.sendData(b"again")  # all written: at once again
    assert client.recv(100) == b"again"
