"""Websocket frames as `manage.py serve` writes them (mayday.server): a text message framed in one step, on the
socket at once when nothing waits, and whatever the socket cannot take yet kept, in order, with what comes after
it. Real sockets on loopback, written by a Twisted TCP connection on an event loop of the test's own; the frames
read back by the `websockets` library's own parser."""

from __future__ import annotations

import asyncio
import socket
from collections import deque

import pytest
from autobahn.exception import Disconnected, PayloadExceededError
from autobahn.websocket.protocol import TrafficStats, WebSocketProtocol
from twisted.internet import tcp
from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from mayday.server import PromptWebSocketProtocol

DAPHNE_LIMIT = 1024 * 1024  # daphne.server.Server's websocket_max_message_size (imported, it installs a reactor)


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
    protocol.state, protocol.trafficStats, protocol.send_queue, protocol.logOctets, protocol.trackedTimings = (
        WebSocketProtocol.STATE_OPEN,
        TrafficStats(),
        deque(),
        False,
        False,
    )
    # As daphne's server sets autobahn up: no compression, no fragmenting, its websocket_max_message_size.
    protocol._perMessageCompress, protocol.autoFragmentSize, protocol.maxMessagePayloadSize = None, 0, DAPHNE_LIMIT
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


def parsed(data: bytes) -> list[Frame]:
    """The frames in `data`, as a websocket client reads a server's (unmasked); a byte left over fails."""
    reader, frames = StreamReader(), []
    reader.feed_data(data)
    reader.feed_eof()
    while reader.buffer:
        try:
            next(Frame.parse(reader.read_exact, mask=False))
        except StopIteration as done:
            frames.append(done.value)
        else:
            raise AssertionError(f"an incomplete frame: {bytes(reader.buffer[:20])!r}")
    return frames


@pytest.mark.parametrize("text", ["hello", "é" * 100, "x" * 300, "y" * 70_000, "z" * DAPHNE_LIMIT])
def test_a_text_message_is_one_whole_frame_whatever_its_length(connection, text):
    """The three ways of giving a length (in the second byte, in two more, in eight more), counted in bytes."""
    protocol, client, loop = connection
    protocol.handle_reply({"type": "websocket.send", "text": text})
    size = len(text.encode())
    header = 2 if size < 126 else 4 if size < 65536 else 10
    [frame] = parsed(read(client, loop, header + size))
    assert (frame.opcode, frame.fin, frame.rsv1, frame.data.decode()) == (Opcode.TEXT, True, False, text)


def test_a_text_message_within_daphnes_size_limit_is_framed_here_not_by_daphne_and_autobahn(connection):
    protocol, client, loop = connection
    protocol.serverSend = protocol.sendMessage = None  # the per-message checks this path leaves out: not reached
    protocol.handle_reply({"type": "websocket.send", "text": "x" * DAPHNE_LIMIT})
    [frame] = parsed(read(client, loop, 10 + DAPHNE_LIMIT))
    assert len(frame.data) == DAPHNE_LIMIT


def test_messages_keep_their_order_with_what_the_socket_could_not_take_yet(connection):
    protocol, client, loop = connection
    texts = [str(n) * 100_000 for n in range(3)] + ["last"]
    for text in texts:
        protocol.handle_reply({"type": "websocket.send", "text": text})
    assert [f.data.decode() for f in parsed(read(client, loop, 3 * 100_010 + 6))] == texts


def test_a_message_on_a_connection_that_is_closing_goes_daphnes_way_and_writes_nothing(connection):
    protocol, client, _ = connection
    protocol.state, protocol.client_addr = WebSocketProtocol.STATE_CLOSING, client.getsockname()
    with pytest.raises(Disconnected):  # what daphne's serverSend gets from autobahn: the consumer hears of it
        protocol.handle_reply({"type": "websocket.send", "text": "late"})
    with pytest.raises(BlockingIOError):
        client.recv(100)


def test_a_message_over_daphnes_size_limit_goes_daphnes_way_and_writes_nothing(connection):
    protocol, client, _ = connection
    protocol.client_addr = client.getsockname()
    with pytest.raises(PayloadExceededError):  # autobahn's refusal, as daphne's serverSend meets it
        protocol.handle_reply({"type": "websocket.send", "text": "é" * (DAPHNE_LIMIT // 2 + 1)})
    with pytest.raises(BlockingIOError):
        client.recv(100)
