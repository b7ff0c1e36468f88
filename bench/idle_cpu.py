"""What idle connections cost a server: CPU share and RSS per connection, while it pings.

Holds N raw WebSocket Socket.IO clients open against a server (they connect to ``/``,
answer every PING with a PONG and do nothing else), lets the heartbeat run, and reads the
server's CPU time from ``/proc/<pid>/stat`` over a window: the share of one core that
idling costs. RSS per connection is (RSS with N connections − RSS before) ÷ N.

    python bench/idle_cpu.py run --url ws://127.0.0.1:PORT --pid PID [--clients 19900]
    python bench/idle_cpu.py bare PORT      # the reference: a bare uvloop ping server

``bare`` serves the same protocol with nothing else: a fixed handshake, one
``call_later`` per connection that sends ``2`` every 25 s, and a reader that takes the
``3`` frames. The clients live in this (separate) process, so the server's own file
limit bounds N (``ulimit -n``). Every wait is bounded; the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import resource
import sys
import time
from typing import cast
from urllib.parse import urlsplit

import uvloop

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE_KB


def _text_frame(text: bytes, *, masked: bool) -> bytes:
    """One small text frame (payload under 126 bytes); a client's has a zero mask."""
    if masked:
        return bytes((0x81, 0x80 | len(text))) + b"\0\0\0\0" + text
    return bytes((0x81, len(text))) + text


def _frames(buffer: bytearray, *, masked: bool) -> list[bytes]:
    """Cut the complete small frames off the front of ``buffer`` (zero-mask payloads)."""
    out = []
    while len(buffer) >= 2:
        length = buffer[1] & 0x7F
        head = 2
        if length == 126:
            if len(buffer) < 4:
                break
            length = int.from_bytes(buffer[2:4], "big")
            head = 4
        if masked:
            head += 4
        if len(buffer) < head + length:
            break
        out.append(bytes(buffer[head : head + length]))
        del buffer[: head + length]
    return out


class _Client(asyncio.Protocol):
    pings = 0
    failures: list[str] = []  # noqa: RUF012 - one list for the whole run

    def __init__(self, host: str, path: str, ready: asyncio.Future[None]) -> None:
        self.host = host
        self.path = path
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self._fail("upgrade refused: " + self.buffer[:40].decode(errors="replace"))
                return
            del self.buffer[: end + 4]
            self.upgraded = True
        assert self.transport is not None
        for frame in _frames(self.buffer, masked=False):
            if frame == b"2":
                _Client.pings += 1
                self.transport.write(_text_frame(b"3", masked=True))
            elif frame[:1] == b"0":
                self.transport.write(_text_frame(b"40", masked=True))
            elif frame[:2] == b"40" and not self.ready.done():
                self.ready.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))


async def _connect_all(url: str, count: int, batch: int) -> list[_Client]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = "/socket.io/?EIO=4&transport=websocket"
    loop = asyncio.get_running_loop()
    clients: list[_Client] = []

    async def one() -> None:
        ready: asyncio.Future[None] = loop.create_future()
        try:
            _, client = await loop.create_connection(
                lambda: _Client(f"{host}:{port}", path, ready), host, port
            )
            await asyncio.wait_for(ready, 30)
        except (OSError, TimeoutError) as exc:
            _Client.failures.append(repr(exc))
            return
        clients.append(client)

    for start in range(0, count, batch):
        await asyncio.gather(*(one() for _ in range(min(batch, count - start))))
    return clients


async def _wait_for_handshake(url: str, limit_s: float = 120.0) -> None:
    """Wait until the server answers an Engine.IO handshake, not merely accepts.

    An app may bind its port before importing its code; RSS taken then is no baseline.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    deadline = time.monotonic() + limit_s
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
            if status.startswith(b"HTTP/1.1 200"):
                return
        except (OSError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no Engine.IO handshake from {url} in {limit_s:g} s")
        await asyncio.sleep(0.5)


async def _run(args: argparse.Namespace) -> dict[str, object]:
    await _wait_for_handshake(args.url)
    await asyncio.sleep(2)  # the handshake's own session must not count (it times out)
    base_rss = _rss_kb(args.pid)
    t0 = time.monotonic()
    clients = await _connect_all(args.url, args.clients, args.batch)
    connect_s = time.monotonic() - t0
    await asyncio.sleep(args.settle)
    rss = _rss_kb(args.pid)
    pings_before = _Client.pings
    cpu0, wall0 = _cpu_seconds(args.pid), time.monotonic()
    await asyncio.sleep(args.secs)
    cpu1, wall1 = _cpu_seconds(args.pid), time.monotonic()
    alive = sum(1 for c in clients if c.transport is not None and not c.transport.is_closing())
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    return {
        "connections": len(clients),
        "failed_to_connect": len(_Client.failures),
        "first_failure": _Client.failures[0] if _Client.failures else None,
        "still_connected": alive,
        "connect_s": round(connect_s, 1),
        "window_s": round(wall1 - wall0, 1),
        "pings_in_window": _Client.pings - pings_before,
        "server_cpu_percent": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 2),
        "rss_base_kb": base_rss,
        "rss_kb": rss,
        "kb_per_connection": round((rss - base_rss) / len(clients), 2),
    }


class _BareServer(asyncio.Protocol):
    """A connection of the bare reference server."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.buffer = bytearray()
        self.upgraded = False

    def data_received(self, data: bytes) -> None:
        if self.upgraded:
            for frame in _frames(bytearray(data), masked=True):
                if frame == b"40":
                    self.transport.write(_text_frame(b'40{"sid":"bare"}', masked=False))
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        key = b""
        for line in bytes(self.buffer[:end]).split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        if not key:  # a long-polling handshake: the harness checks the server is up
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n0{")
            self.transport.close()
            return
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.transport.write(_text_frame(b'0{"sid":"bare","pingInterval":25000}', masked=False))
        self.upgraded = True
        self.buffer = bytearray()
        asyncio.get_running_loop().call_later(25, self._ping)

    def _ping(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(b"\x81\x012")
            asyncio.get_running_loop().call_later(25, self._ping)


async def _serve_bare(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(
        _BareServer, "127.0.0.1", port, backlog=4096
    )
    async with server:
        await asyncio.sleep(3600)


def main() -> None:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--url", required=True)
    run.add_argument("--pid", type=int, required=True)
    run.add_argument("--clients", type=int, default=19_900)
    run.add_argument("--batch", type=int, default=200)
    run.add_argument("--settle", type=float, default=10.0)
    run.add_argument("--secs", type=float, default=60.0)
    bare = sub.add_parser("bare")
    bare.add_argument("port", type=int)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.command == "bare":
        uvloop.run(_serve_bare(args.port))
        return
    result = uvloop.run(asyncio.wait_for(_run(args), args.settle + args.secs + 600))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
