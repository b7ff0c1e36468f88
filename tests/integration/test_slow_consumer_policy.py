"""The slow-consumer policy between the two marks, observed on a client that stops reading.

``write_buffer_high_bytes`` is where a client counts as slow and ``write_buffer_max_bytes``
where it is cut off whatever the policy. These tests set the maximum far out of reach, so
only the policy decides what happens in between: ``disconnect`` cuts the client at the high
mark, ``drop-volatile`` keeps it, drops its volatile packets and keeps the others.

The stalled client is a raw WebSocket client that stops reading; the flood
stops as soon as the server's own write buffer for it passes the high mark, so the tests do
not depend on how much the kernel buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
import pytest

from baatcheet.settings import SlowConsumerPolicy
from baatcheet.sio import Server, Socket
from support.factories import ServerFactory

pytestmark = pytest.mark.timeout(60)

HIGH = 100_000
OUT_OF_REACH = 1_000_000_000
"""``write_buffer_max_bytes``: no flood here comes near it."""
CHUNK = "x" * 50_000
_FLOOD_LIMIT = 4000
"""Emits before giving up on passing the high mark (200 MB: far past any kernel buffer)."""


@dataclass
class Stalled:
    """A connected client that stopped reading, and its server-side socket."""

    server: Server
    socket: Socket
    reasons: asyncio.Queue[str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def buffered(self) -> int:
        """Bytes the server holds for this client, not yet taken by the kernel."""
        ws = self.socket.client.session.ws
        assert ws is not None, "the stalled client is on WebSocket from the start"
        return ws.buffered_bytes()

    async def flood_past_the_high_mark(self) -> int:
        """Emit 50 kB events until the server buffers more than ``HIGH``; return the count.

        Each emit happens while the buffer is still at or under the mark, so no policy acts
        during the flood itself.
        """
        for index in range(_FLOOD_LIMIT):
            if self.buffered() > HIGH:
                return index
            self.server.to(self.socket.id).emit("bulk", index, CHUNK)
            await asyncio.sleep(0)
        raise AssertionError(f"the server buffer never passed {HIGH} bytes")

    async def events_until(self, last: str) -> list[str]:
        """Read the client's frames (it reads again now) up to event ``last``; their names."""
        names: list[str] = []
        while not names or names[-1] != last:
            text = await asyncio.wait_for(_read_text_frame(self.reader), 10)
            if text.startswith("42"):
                names.append(orjson.loads(text[2:])[0])
        return names


@pytest.fixture
async def stalled(
    request: pytest.FixtureRequest, running_server: ServerFactory
) -> AsyncIterator[Stalled]:
    server: Server = await running_server(
        write_buffer_high_bytes=HIGH,
        write_buffer_max_bytes=OUT_OF_REACH,
        slow_consumer_policy=request.param,
    )
    reasons: asyncio.Queue[str] = asyncio.Queue()
    arrivals: asyncio.Queue[Socket] = asyncio.Queue()

    def on_connection(client: Socket) -> None:
        client.on("disconnect", reasons.put_nowait)
        arrivals.put_nowait(client)

    server.on("connection", on_connection)
    reader, writer = await _stalled_client(server.port)
    try:
        connected = await asyncio.wait_for(arrivals.get(), 5)
        yield Stalled(server, connected, reasons, reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


_DISCONNECT = pytest.mark.parametrize("stalled", [SlowConsumerPolicy.DISCONNECT], indirect=True)
_DROP_VOLATILE = pytest.mark.parametrize(
    "stalled", [SlowConsumerPolicy.DROP_VOLATILE], indirect=True
)


@_DISCONNECT
async def test_the_disconnect_policy_cuts_a_client_at_the_high_mark_not_the_maximum(
    stalled: Stalled,
) -> None:
    await stalled.flood_past_the_high_mark()
    assert HIGH < stalled.buffered() < OUT_OF_REACH // 100
    stalled.server.to(stalled.socket.id).emit("one-more", CHUNK)
    assert await asyncio.wait_for(stalled.reasons.get(), 5) == "slow consumer"
    assert stalled.socket.id not in stalled.server.main.sockets


@_DROP_VOLATILE
async def test_the_drop_volatile_policy_keeps_a_client_between_the_two_marks(
    stalled: Stalled,
) -> None:
    await stalled.flood_past_the_high_mark()
    for index in range(20):  # another megabyte, all of it above the high mark
        stalled.server.to(stalled.socket.id).emit("more", index, CHUNK)
        await asyncio.sleep(0)
    await asyncio.sleep(0)  # a cut is scheduled with call_soon: give it its turn
    assert stalled.reasons.empty(), f"cut off: {stalled.reasons.get_nowait()}"
    assert stalled.socket.connected
    assert stalled.buffered() > HIGH


@_DROP_VOLATILE
async def test_volatile_packets_to_a_slow_client_are_dropped_and_the_others_kept(
    stalled: Stalled,
) -> None:
    target = stalled.server.to(stalled.socket.id)
    target.volatile.emit("volatile-while-fast")
    flood = await stalled.flood_past_the_high_mark()
    target.volatile.emit("volatile-while-slow")
    target.emit("kept")
    target.volatile.emit("volatile-while-slow")
    target.emit("last")

    names = await stalled.events_until("last")
    assert names == ["volatile-while-fast", *["bulk"] * flood, "kept", "last"]
    assert stalled.reasons.empty()


# -- a raw WebSocket client that stops reading -------------------------------------------


async def _stalled_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that completes the handshakes, then does not read until asked."""
    # The receive buffer keeps its default size: an unread socket does not grow it, and a
    # small one would make reading everything back later crawl.
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**16)
    writer.write(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    assert (await _read_text_frame(reader)).startswith('0{"sid":')  # Engine.IO OPEN
    writer.write(b"\x81\x82" + b"\x00\x00\x00\x00" + b"40")  # CONNECT to "/", masked
    await writer.drain()
    assert (await _read_text_frame(reader)).startswith('40{"sid":')
    return reader, writer


async def _read_text_frame(reader: asyncio.StreamReader) -> str:
    """The next whole text message the server sent (server frames are never masked)."""
    parts: list[bytes] = []
    while True:
        head = await reader.readexactly(2)
        fin, opcode, length = head[0] & 0x80, head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        if opcode == 0x8:
            raise AssertionError(f"the server closed the WebSocket: {payload!r}")
        if opcode in (0x1, 0x0):
            parts.append(payload)
            if fin:
                return b"".join(parts).decode()
