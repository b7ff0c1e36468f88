"""The server side of a WebSocket: frames in from the client, messages out to the session."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import cast

from baatcheet.engine.websocket import WebSocketConnection


class _Transport:
    """Collects what the connection writes; the socket it stands for never fills up."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.writes = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data
        self.writes += 1

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0


def _client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A frame as a browser sends it: masked (RFC 6455 §5.3), with a non-trivial key."""
    mask = b"\x12\x34\x56\x78"
    head = bytes(((0x80 if fin else 0) | opcode,))
    length = len(payload)
    if length < 126:
        head += bytes((0x80 | length,))
    elif length < 65536:
        head += bytes((0x80 | 126,)) + length.to_bytes(2, "big")
    else:
        head += bytes((0x80 | 127,)) + length.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def _connection(max_size: int = 1_000_000) -> tuple[WebSocketConnection, _Transport, list[object]]:
    transport = _Transport()
    ws = WebSocketConnection(cast(asyncio.Transport, transport), max_size)
    got: list[object] = []
    ws.on_message = got.append
    ws.on_close = lambda code, reason: got.append(("closed", code))
    return ws, transport, got


def test_messages_cut_at_every_byte_still_arrive_whole_and_in_order() -> None:
    ws, _, got = _connection()
    long_text = "4" + "x" * 300  # a 16-bit length
    stream = (
        _client_frame(0x1, b"3")
        + _client_frame(0x2, b"\x00\xffbinary")
        + _client_frame(0x1, long_text.encode())
        + _client_frame(0x1, "4héllo".encode())
    )
    for i in range(len(stream)):
        ws.receive(stream[i : i + 1])
    assert got == ["3", b"\x00\xffbinary", long_text, "4héllo"]


def test_a_ping_from_the_client_is_answered_and_later_messages_still_arrive() -> None:
    ws, transport, got = _connection()
    ws.receive(_client_frame(0x1, b"40") + _client_frame(0x9, b"hi") + _client_frame(0x1, b"3"))
    ws.receive(_client_frame(0x1, b"3"))
    assert got == ["40", "3", "3"]
    assert bytes(transport.written) == b"\x8a\x02hi"  # the PONG, unmasked from the server


def test_a_fragmented_message_arrives_as_one() -> None:
    ws, _, got = _connection()
    ws.receive(_client_frame(0x1, b"4hel", fin=False) + _client_frame(0x0, b"lo"))
    assert got == ["4hello"]


def test_invalid_utf8_in_a_text_frame_closes_with_1007() -> None:
    ws, transport, got = _connection()
    ws.receive(_client_frame(0x1, b"4\xff\xfe"))
    assert got == [("closed", 1007)]
    assert transport.closed


def test_one_character_messages_are_unmasked_and_a_lone_non_ascii_byte_closes_with_1007() -> None:
    ws, transport, got = _connection()
    ws.receive(_client_frame(0x1, b"3") + _client_frame(0x2, b"3") + _client_frame(0x1, b"\xc3"))
    ws.receive(_client_frame(0x1, b"3"))  # after the close: not read
    assert got == ["3", b"3", ("closed", 1007)]
    assert transport.closed


def test_a_frame_over_the_size_limit_closes_with_1009() -> None:
    ws, _, got = _connection(max_size=100)
    ws.receive(_client_frame(0x1, b"4" + b"x" * 200))
    assert got == [("closed", 1009)]


def test_an_unmasked_client_frame_closes_with_1002() -> None:
    ws, _, got = _connection()
    ws.receive(b"\x81\x013")
    assert got == [("closed", 1002)]


def _ignore(data: str | bytes) -> None:
    del data


def test_a_connection_that_only_answers_pings_weighs_under_300_bytes() -> None:
    count = 500
    pong = _client_frame(0x1, b"3")
    transports = [cast(asyncio.Transport, _Transport()) for _ in range(count)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        connections = [WebSocketConnection(transport, 1_000_000) for transport in transports]
        for ws in connections:
            ws.on_message = _ignore
            ws.receive(pong)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    # With the ``websockets`` parser made up front, each weighed about 1.3 KB.
    assert grown / count < 300, f"{grown / count:.0f} bytes per idle connection"


_PLAIN_UPGRADE = [
    (b"host", b"example.test"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-version", b"13"),
]


def test_a_held_101_answer_goes_out_with_the_first_frame_in_one_write() -> None:
    ws, transport, _ = _connection()
    assert ws.accept("GET", "/socket.io/", _PLAIN_UPGRADE, hold=True)
    assert transport.writes == 0
    ws.send_text("0{}")
    assert transport.writes == 1
    head, _, frame = bytes(transport.written).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    assert frame == b"\x81\x030{}"
    ws.release_answer()  # nothing left to release
    assert transport.writes == 1


def test_a_held_answer_released_before_any_frame_is_written_alone() -> None:
    ws, transport, _ = _connection()
    ws.accept("GET", "/socket.io/", _PLAIN_UPGRADE, hold=True)
    ws.release_answer()
    assert transport.writes == 1
    assert bytes(transport.written).endswith(b"\r\n\r\n")
    ws.send_text("2")
    assert transport.writes == 2
    assert bytes(transport.written).endswith(b"\x81\x012")


def test_closing_with_the_answer_held_sends_the_answer_before_the_close_frame() -> None:
    ws, transport, got = _connection()
    ws.accept("GET", "/socket.io/", _PLAIN_UPGRADE, hold=True)
    ws.close(1011, "handler failed")
    assert bytes(transport.written).startswith(b"HTTP/1.1 101 ")
    assert bytes(transport.written).partition(b"\r\n\r\n")[2][0] == 0x88  # the close frame
    assert got == [("closed", 1011)]
