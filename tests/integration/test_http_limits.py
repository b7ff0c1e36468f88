"""The listener's HTTP limits and timeouts, over raw TCP: what a slow or greedy peer meets.

Request line 414, header block 431, headers and request timeouts 408, keep-alive idle
close, and the Host check against DNS rebinding. Peers are asyncio streams writing bytes
by hand, so nothing between the test and the server fixes a request up.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re

import orjson
import psutil
import pytest
from websockets.asyncio.client import connect

from baatcheet.demo import mount_echo
from baatcheet.listener.http import HttpConnection
from baatcheet.sio import Server
from support.factories import ServerFactory

pytestmark = pytest.mark.timeout(30)

_UVLOOP_READ: int = 256 * 1024
"""The most one read of uvloop's takes from a socket: the server's overshoot past a limit."""


async def _open(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def _until_closed(reader: asyncio.StreamReader, within_s: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection (reset included)."""
    received = b""
    async with asyncio.timeout(within_s):
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                received += chunk
    return received


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response with a content-length: its status and body."""
    async with asyncio.timeout(5):
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        body = await reader.readexactly(int(length.group(1)) if length else 0)
    return int(head.split(b" ", 2)[1]), body


def _status(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:80]
    return int(raw.split(b" ", 2)[1])


def _get(target: str, host: str = "127.0.0.1", *extra: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", *extra, "", ""]
    return "\r\n".join(lines).encode()


async def _stream_url(
    writer: asyncio.StreamWriter, chunk: bytes, total: int, closed: asyncio.Event
) -> int:
    """Send ``GET /x?`` and then ``chunk`` until ``total`` bytes or the server closes."""
    sent = 0
    with contextlib.suppress(ConnectionError):
        writer.write(b"GET /x?")
        while sent < total and not closed.is_set():
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
            await asyncio.sleep(0)  # the server shares this loop: let it read
    return sent


async def _closed_by_server(
    reader: asyncio.StreamReader, closed: asyncio.Event, within_s: float = 10.0
) -> bytes:
    try:
        return await _until_closed(reader, within_s)
    finally:
        closed.set()


# -- request line and header block ---------------------------------------------------------


async def test_an_endless_url_sent_in_small_chunks_is_answered_414_and_closed(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    reader, writer = await _open(server)
    closed = asyncio.Event()
    answer, sent = await asyncio.gather(
        _closed_by_server(reader, closed), _stream_url(writer, b"a" * 100, 2**20, closed)
    )
    writer.close()
    assert _status(answer) == 414
    assert b"connection: close" in answer.lower()
    assert sent < 2**20, "the server read on instead of closing"


async def test_a_request_line_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(http_max_request_line_bytes=1024)
    fits = "/nowhere?pad=" + "a" * (1024 - len("GET /nowhere?pad= HTTP/1.1"))
    reader, writer = await _open(server)
    writer.write(_get(fits))
    assert (await _response(reader))[0] == 404, "routed: the request line was accepted"
    writer.write(_get(fits + "a"))
    assert _status(await _until_closed(reader)) == 414
    writer.close()


async def test_a_url_arriving_one_byte_at_a_time_is_still_read_whole(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    reader, writer = await _open(server)
    for byte in _get("/socket.io/?EIO=4&transport=polling"):
        writer.write(bytes([byte]))
        await writer.drain()
    status, body = await _response(reader)
    writer.close()
    assert status == 200
    assert body.startswith(b'0{"sid":')


async def test_a_header_block_over_the_limit_is_answered_431_and_one_under_it_is_read(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(http_max_header_bytes=4096)
    # Each header line counts its name, value and ": " + CRLF; Host takes 17 bytes.
    under = [f"X-Pad-{index}: {'v' * 990}" for index in range(4)]
    reader, writer = await _open(server)
    writer.write(_get("/nowhere", "127.0.0.1", *under))
    assert (await _response(reader))[0] == 404
    writer.write(_get("/nowhere", "127.0.0.1", *under, "X-Pad-4: " + "v" * 80))
    assert _status(await _until_closed(reader)) == 431
    writer.close()


async def test_one_endless_header_value_is_cut_off_at_the_head_limit_with_431(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    reader, writer = await _open(server)
    closed = asyncio.Event()

    async def stream_header() -> int:
        sent = 0
        with contextlib.suppress(ConnectionError):
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
            while sent < 2**20 and not closed.is_set():
                writer.write(b"b" * 100)
                await writer.drain()
                sent += 100
                await asyncio.sleep(0)  # the server shares this loop: let it read
        return sent

    answer, sent = await asyncio.gather(_closed_by_server(reader, closed), stream_header())
    writer.close()
    assert _status(answer) == 431
    assert sent < 2**20


async def test_a_peer_streaming_50_mb_of_url_costs_the_server_one_read_past_the_limit(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    process = psutil.Process()  # the server runs in this process
    rss_before = process.memory_info().rss
    read_before = process.io_counters().read_chars
    reader, writer = await _open(server)
    closed = asyncio.Event()
    answer, sent = await asyncio.gather(
        _closed_by_server(reader, closed, within_s=20),
        _stream_url(writer, b"a" * 65536, 50 * 2**20, closed),
    )
    writer.close()
    server_read = process.io_counters().read_chars - read_before
    rss_growth = process.memory_info().rss - rss_before
    assert _status(answer) == 414
    assert server_read <= server.settings.http_max_request_line_bytes + _UVLOOP_READ + 4096
    assert rss_growth < 5 * 2**20, f"RSS grew {rss_growth / 2**20:.1f} MiB"
    assert sent < 50 * 2**20


def _open_http_connections() -> int:
    return sum(isinstance(thing, HttpConnection) for thing in gc.get_objects())


async def test_a_closed_connection_is_freed_at_once_not_at_the_next_garbage_collection(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    gc.disable()  # the server tunes the collector to run rarely; here it does not run at all
    try:
        before = _open_http_connections()
        for _ in range(20):
            reader, writer = await _open(server)
            writer.write(b"GET /x?" + b"a" * 65536)
            assert _status(await _until_closed(reader)) == 414
            writer.close()
            reader, writer = await _open(server)
            writer.write(_get("/nowhere"))
            assert (await _response(reader))[0] == 404
            writer.close()
        await asyncio.sleep(0.1)  # the server sees the last connections go
        assert _open_http_connections() == before, "refused or finished connections linger"
    finally:
        gc.enable()


# -- timeouts ------------------------------------------------------------------------------


async def test_headers_that_do_not_arrive_in_time_are_answered_408_however_they_trickle(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(http_headers_timeout_s=0.5)
    loop = asyncio.get_running_loop()
    reader, writer = await _open(server)
    started = loop.time()
    closed = asyncio.Event()

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            while not closed.is_set():
                writer.write(b"z")
                await writer.drain()
                await asyncio.sleep(0.05)

    answer, _ = await asyncio.gather(_closed_by_server(reader, closed), trickle())
    elapsed = loop.time() - started
    writer.close()
    assert _status(answer) == 408
    assert 0.45 <= elapsed < 2.0


async def test_a_body_that_does_not_arrive_in_time_is_answered_408(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(http_headers_timeout_s=0.5, http_request_timeout_s=1.0)
    loop = asyncio.get_running_loop()
    reader, writer = await _open(server)
    started = loop.time()
    writer.write(b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n")
    closed = asyncio.Event()

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            while not closed.is_set():
                writer.write(b"z")
                await writer.drain()
                await asyncio.sleep(0.05)

    answer, _ = await asyncio.gather(_closed_by_server(reader, closed), trickle())
    elapsed = loop.time() - started
    writer.close()
    assert _status(answer) == 408
    assert 0.95 <= elapsed < 2.5, "the headers were on time; the whole request was not"


async def test_a_new_connection_that_sends_nothing_is_closed_quietly_after_the_idle_timeout(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(http_keep_alive_timeout_s=0.5)
    loop = asyncio.get_running_loop()
    reader, writer = await _open(server)
    started = loop.time()
    assert await _until_closed(reader) == b""
    assert 0.45 <= loop.time() - started < 2.0
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed_but_one_in_use_stays_open(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(http_keep_alive_timeout_s=0.5)
    loop = asyncio.get_running_loop()
    reader, writer = await _open(server)
    for _ in range(6):  # 1.8 s of requests 0.3 s apart: each one restarts the idle clock
        writer.write(_get("/nowhere"))
        assert (await _response(reader))[0] == 404
        await asyncio.sleep(0.3)
    idle_from = loop.time()
    assert await _until_closed(reader) == b""
    assert 0.15 <= loop.time() - idle_from < 2.0
    writer.close()


async def test_an_upgraded_websocket_outlives_every_http_timeout_while_idle_http_is_closed(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(
        http_headers_timeout_s=0.5, http_request_timeout_s=0.5, http_keep_alive_timeout_s=0.5
    )
    idle_reader, idle_writer = await _open(server)
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    async with connect(url, ping_interval=None) as ws:
        assert str(await ws.recv()).startswith("0")
        assert await _until_closed(idle_reader) == b""
        await asyncio.sleep(1.5)
        await ws.send("40")
        assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("40")
    idle_writer.close()


async def test_a_held_long_poll_get_is_not_timed_out_while_idle_http_is_closed(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(
        http_headers_timeout_s=0.5, http_request_timeout_s=0.5, http_keep_alive_timeout_s=0.5
    )
    poll_reader, poll_writer = await _open(server)
    poll_writer.write(_get("/socket.io/?EIO=4&transport=polling"))
    status, body = await _response(poll_reader)
    assert status == 200
    sid = orjson.loads(body[1:])["sid"]
    poll_writer.write(_get(f"/socket.io/?EIO=4&transport=polling&sid={sid}"))
    idle_reader, idle_writer = await _open(server)
    assert await _until_closed(idle_reader) == b""
    await asyncio.sleep(1.5)  # the GET has now been held three times every timeout
    post_reader, post_writer = await _open(server)
    post_writer.write(
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n40".encode()
    )
    assert (await _response(post_reader))[0] == 200
    status, body = await _response(poll_reader)
    assert status == 200
    assert body.startswith(b"40")
    for writer in (poll_writer, idle_writer, post_writer):
        writer.close()


# -- Host check (DNS rebinding) --------------------------------------------------------------

_EVIL_ORIGIN = "Origin: http://evil.example:{port}"
_UPGRADE = (
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
)


@pytest.mark.parametrize(
    ("target", "extra"),
    [
        ("/socket.io/?EIO=4&transport=polling", ()),
        ("/socket.io/?EIO=4&transport=polling", (_EVIL_ORIGIN,)),
        (
            "/socket.io/?EIO=4&transport=websocket",
            (_EVIL_ORIGIN, *_UPGRADE),
        ),
        ("/ws", (_EVIL_ORIGIN, *_UPGRADE)),
    ],
    ids=["polling-without-origin", "polling-same-origin", "engine-websocket", "plain-websocket"],
)
async def test_a_dns_rebinding_page_naming_its_own_host_is_refused_with_403(
    running_server: ServerFactory, target: str, extra: tuple[str, ...]
) -> None:
    server: Server = await running_server()
    mount_echo(server)  # the demo's /ws, as baatcheet serve has it
    headers = [line.format(port=server.port) for line in extra]
    reader, writer = await _open(server)
    writer.write(_get(target, f"evil.example:{server.port}", *headers))
    status_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
    writer.close()
    assert _status(status_line) == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
async def test_clients_naming_a_local_host_still_connect(
    running_server: ServerFactory, host: str
) -> None:
    server: Server = await running_server()
    named = host.format(port=server.port)
    reader, writer = await _open(server)
    writer.write(_get("/socket.io/?EIO=4&transport=polling", named, f"Origin: http://{named}"))
    status, body = await _response(reader)
    writer.close()
    assert status == 200
    assert body.startswith(b'0{"sid":')


async def test_a_host_listed_in_allowed_hosts_connects_and_others_do_not(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(allowed_hosts=["chat.example"])
    for host, expected in (("chat.example", 200), ("127.0.0.1", 403)):
        reader, writer = await _open(server)
        writer.write(_get("/socket.io/?EIO=4&transport=polling", f"{host}:{server.port}"))
        assert (await _response(reader))[0] == expected
        writer.close()


async def test_requests_pipelined_behind_a_held_long_poll_are_not_read_without_bound(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(shutdown_grace_s=0.5)
    reader, writer = await _open(server)
    writer.write(_get("/socket.io/?EIO=4&transport=polling"))
    status, body = await _response(reader)
    assert status == 200
    sid = orjson.loads(body[1:])["sid"]
    writer.write(_get(f"/socket.io/?EIO=4&transport=polling&sid={sid}"))  # held
    process = psutil.Process()  # the server runs in this process
    read_before = process.io_counters().read_chars

    chunk = _get("/elsewhere") * 2000  # about 80 KB of requests that must wait their turn
    for _ in range(50):
        writer.write(chunk)
        await asyncio.sleep(0.001)  # the server shares this loop: let it read
    await asyncio.sleep(0.2)

    server_read = process.io_counters().read_chars - read_before
    writer.transport.abort()
    assert server_read <= 2 * _UVLOOP_READ, f"the server read {server_read:,} bytes"


@pytest.mark.parametrize(
    ("trusted", "expected"), [(["127.0.0.1"], "203.0.113.9"), ([], "127.0.0.1")]
)
async def test_the_handshake_address_is_the_client_behind_a_trusted_proxy_only(
    running_server: ServerFactory, trusted: list[str], expected: str
) -> None:
    server: Server = await running_server(forwarded_allow_ips=trusted)
    addresses: asyncio.Queue[str | None] = asyncio.Queue()
    server.on("connection", lambda socket: addresses.put_nowait(socket.handshake.address))
    reader, writer = await _open(server)
    writer.write(
        _get("/socket.io/?EIO=4&transport=polling", "127.0.0.1", "X-Forwarded-For: 203.0.113.9")
    )
    status, body = await _response(reader)
    sid = orjson.loads(body[1:])["sid"]
    connect = b"40"
    writer.write(
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Forwarded-For: 203.0.113.9\r\nContent-Length: {len(connect)}\r\n\r\n".encode()
        + connect
    )
    await _response(reader)
    writer.close()

    assert status == 200
    assert await asyncio.wait_for(addresses.get(), 5) == expected
