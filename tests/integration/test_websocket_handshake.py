"""The WebSocket opening handshake (RFC 6455 §4.2) at the Engine.IO path, over real sockets.

The plain request every client sends is answered without the ``websockets`` handshake
(it is most of a reconnect storm's work per connection); these pin down that the answer
is still the RFC's, and that the requests it does not take still get the full handshake.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest

from baatcheet.settings import Settings
from baatcheet.sio import Server

pytestmark = pytest.mark.timeout(60)

_RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
_RFC_ACCEPT = b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
"""The key and answer of RFC 6455 §1.3's example."""


@pytest.fixture
async def port() -> AsyncIterator[int]:
    server = Server(Settings(host="127.0.0.1", port=0))
    await server.start()
    try:
        yield server.port
    finally:
        await server.shutdown(grace=1)


async def _upgrade(port: int, *headers: str) -> tuple[bytes, bytes]:
    """Sends an upgrade request with ``headers``; the response head and the first bytes after."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        *headers,
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    rest = await asyncio.wait_for(reader.read(200), 5)
    writer.close()
    return head, rest


_PLAIN = ("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13")


async def test_a_plain_upgrade_gets_the_rfc_accept_value_and_the_engine_open_packet(
    port: int,
) -> None:
    head, rest = await _upgrade(port, *_PLAIN, f"Sec-WebSocket-Key: {_RFC_KEY}")
    assert head.startswith(b"HTTP/1.1 101 ")
    assert _RFC_ACCEPT in head
    assert b"\r\nUpgrade: websocket\r\n" in head
    assert rest[0] == 0x81  # a whole text frame: Engine.IO's OPEN packet
    assert rest[2:4] == b"0{"


async def test_browser_style_headers_are_taken_in_any_case_and_order(port: int) -> None:
    head, _ = await _upgrade(
        port,
        "sec-websocket-key: " + _RFC_KEY,
        "connection: keep-alive, Upgrade",
        "upgrade: WebSocket",
        "sec-websocket-version: 13",
    )
    assert head.startswith(b"HTTP/1.1 101 ")
    assert _RFC_ACCEPT in head


async def test_an_offered_extension_is_declined_and_the_upgrade_still_succeeds(port: int) -> None:
    head, _ = await _upgrade(
        port,
        *_PLAIN,
        f"Sec-WebSocket-Key: {_RFC_KEY}",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    )
    assert head.startswith(b"HTTP/1.1 101 ")
    assert _RFC_ACCEPT in head
    assert b"sec-websocket-extensions" not in head.lower()


@pytest.mark.parametrize(
    "bad",
    [
        ("Sec-WebSocket-Key: c2hvcnQ=",),  # 5 bytes, not 16
        ("Sec-WebSocket-Key: not base64!",),
        (f"Sec-WebSocket-Key: {_RFC_KEY}", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="),
    ],
)
async def test_a_missing_or_malformed_key_is_refused(port: int, bad: tuple[str, ...]) -> None:
    head, _ = await _upgrade(port, *_PLAIN, *bad)
    assert head.startswith(b"HTTP/1.1 400 ")


async def test_another_protocol_version_is_refused(port: int) -> None:
    head, _ = await _upgrade(
        port,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 8",
        f"Sec-WebSocket-Key: {_RFC_KEY}",
    )
    assert head.startswith(b"HTTP/1.1 400 ")


def _first_read(port: int, target: str) -> bytes:
    """Sends a plain upgrade request to ``target``; what one ``recv`` then returns."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            + "".join(f"{header}\r\n" for header in _PLAIN)
            + f"Sec-WebSocket-Key: {_RFC_KEY}\r\n\r\n"
        )
        sock.sendall(request.encode())
        return sock.recv(4096)


async def test_an_upgrade_of_a_polling_session_is_answered_before_the_client_probes(
    port: int,
) -> None:
    # Nothing follows this 101 until the client sends its probe, so it must not wait.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    )
    body = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    payload = body.partition(b"\r\n\r\n")[2].decode()
    sid = json.JSONDecoder().raw_decode(payload, payload.index("{"))[0]["sid"]
    first = await asyncio.to_thread(
        _first_read, port, f"/socket.io/?EIO=4&transport=websocket&sid={sid}"
    )
    assert first.startswith(b"HTTP/1.1 101 ")
    assert first.endswith(b"\r\n\r\n")
