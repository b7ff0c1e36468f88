"""The load generator's raw WebSocket client (loadtest/js/raw_websocket.js) over real sockets.

The storm and idle scenarios connect through a hand-written RFC 6455 client instead of
``ws``. These tests run it as the generator does: against the real fan-out app (refused
upgrade, a storm with a server restart) and against a scripted server that sends the
frame shapes a real server may send (split across reads, several in one read, 64-bit
lengths, control frames) and checks the bytes the client answers with. Each test fails on
a generator whose storm clients still use ``ws``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from baatcheet.loadtest.generator import ensure_loadgen
from support.paths import JS_DIR, REPO_ROOT
from support.ports import free_port, wait_for_port

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="the load generator runs on Node.js"),
    pytest.mark.timeout(60),
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_ZERO_KEY = b"\x00\x00\x00\x00"


def _server_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked, final server frame with the shortest length encoding (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def _zero_masked(opcode: int, payload: bytes) -> bytes:
    """What the client must send: a final frame, mask bit set, masking key 0."""
    assert len(payload) < 126
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + _ZERO_KEY + payload


class _Probe:
    """tests/js/raw_client_probe.mjs: one raw SioClient that reports in JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, base_url: str) -> _Probe:
        script, modules = ensure_loadgen()
        process = await asyncio.create_subprocess_exec(
            "node",
            str(JS_DIR / "raw_client_probe.mjs"),
            str(script.parent),
            base_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "NODE_PATH": str(modules)},
        )
        return cls(process)

    async def next(self) -> dict[str, Any]:
        """The probe's next line (within 10 s)."""
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 10)
        assert line, "the probe exited"
        event: dict[str, Any] = json.loads(line)
        return event

    async def stop(self) -> None:
        if self._process.returncode is None:
            self._process.kill()
        await self._process.wait()


@pytest.fixture
async def probes() -> AsyncIterator[list[_Probe]]:
    started: list[_Probe] = []
    yield started
    for probe in started:
        await probe.stop()


def _start_fanout_app(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "bench" / "apps" / "fanout.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def fanout_port() -> Iterator[int]:
    """The fan-out benchmark app (a real Baatcheet server) on a free port."""
    port = free_port()
    process = _start_fanout_app(port)
    try:
        assert wait_for_port(port, 30), "the fan-out app did not start"
        yield port
    finally:
        process.terminate()
        process.wait(10)


async def test_refused_upgrade_rejects_connect_with_the_servers_status_line(
    fanout_port: int, probes: list[_Probe]
) -> None:
    probes.append(probe := await _Probe.start(f"ws://127.0.0.1:{fanout_port}/nowhere"))

    event = await probe.next()

    assert event["event"] == "error"
    assert event["message"].startswith(
        "WebSocket upgrade of /nowhere/socket.io/?EIO=4&transport=websocket refused: HTTP/1.1 4"
    )


async def test_client_reads_split_batched_and_long_frames_and_answers_control_frames(
    probes: list[_Probe],
) -> None:
    client_bytes: asyncio.Queue[bytes] = asyncio.Queue()
    script_done = asyncio.Event()

    async def scripted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def expect(frame: bytes) -> None:
            assert await asyncio.wait_for(reader.readexactly(len(frame)), 10) == frame

        head = await reader.readuntil(b"\r\n\r\n")
        await client_bytes.put(head)
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        # The 101 answer and Engine.IO's OPEN arrive in one read, as Baatcheet sends them.
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + _server_frame(1, b'0{"sid":"s"}')
        )
        await expect(_zero_masked(1, b"40"))
        # CONNECT split inside its header, then its payload, over three reads.
        connect = _server_frame(1, b'40{"sid":"n"}')
        for part in (connect[:1], connect[1:3], connect[3:]):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.05)
        # A WebSocket ping and an Engine.IO PING in one read: a pong echoing the payload
        # and a "3".
        writer.write(_server_frame(9, b"hi") + _server_frame(1, b"2"))
        await expect(_zero_masked(10, b"hi") + _zero_masked(1, b"3"))
        # Two events in one read, one in two fragments (a text frame without FIN, then a
        # final continuation), then one of 70,000 bytes (64-bit length) in three reads.
        writer.write(_server_frame(1, b'42["a"]') + _server_frame(1, b'42["b",1]'))
        writer.write(b"\x01\x04" + b'42["' + _server_frame(0, b'c"]'))
        long_event = _server_frame(1, b'42["long","' + b"x" * 69_989 + b'"]')
        for start in range(0, len(long_event), 30_000):
            writer.write(long_event[start : start + 30_000])
            await writer.drain()
            await asyncio.sleep(0.05)
        # A close frame is answered with a close frame, then the client ends the stream.
        writer.write(_server_frame(8, struct.pack("!H", 1000)))
        await expect(_zero_masked(8, b""))
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        script_done.set()

    port = free_port()
    server = await asyncio.start_server(scripted, "127.0.0.1", port)
    async with server:
        probes.append(probe := await _Probe.start(f"ws://127.0.0.1:{port}"))
        events = [await probe.next() for _ in range(6)]
        await asyncio.wait_for(script_done.wait(), 10)

    request = await client_bytes.get()
    assert request.startswith(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in request
    assert events == [
        {"event": "connected"},
        {"event": "message", "bytes": 5, "head": '["a"]'},
        {"event": "message", "bytes": 7, "head": '["b",1]'},
        {"event": "message", "bytes": 5, "head": '["c"]'},
        {"event": "message", "bytes": 70_000, "head": '["long","' + "x" * 31},
        {"event": "closed"},
    ]


def test_storm_connects_every_raw_client_and_all_rejoin_after_the_server_restarts(
    tmp_path: Path,
) -> None:
    script, modules = ensure_loadgen()
    port = free_port()
    server = _start_fanout_app(port)
    try:
        assert wait_for_port(port, 30), "the fan-out app did not start"
        with (tmp_path / "loadgen.log").open("wb") as log:
            generator = subprocess.Popen(
                [
                    "node",
                    str(script),
                    "storm",
                    *("--url", f"ws://127.0.0.1:{port}", "--clients", "300"),
                    *("--restart-clients", "100", "--rejoin-secs", "30"),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, "NODE_PATH": str(modules)},
            )
        assert generator.stdin is not None
        generator.stdin.write(b"go\nrestart\n")
        generator.stdin.flush()
        # "restart" takes effect once the storm has ramped and joined; the server goes
        # down while the kept clients are connected, and comes back on the same port.
        assert _wait_for_log(tmp_path / "loadgen.log", b'"event":"trimmed"', 30)
        server.kill()
        server.wait(10)
        server = _start_fanout_app(port)
        out, _ = generator.communicate(timeout=45)
    finally:
        server.terminate()
        server.wait(10)

    assert generator.returncode == 0, (tmp_path / "loadgen.log").read_text()[-2000:]
    result = json.loads(out)
    assert result["transport"] == "raw"
    assert result["connected"] == 300
    assert result["connect_failures"] == 0
    assert result["join_failures"] == 0
    assert result["closed_by_restart"] == 100
    assert result["rejoined"] == 100


def _wait_for_log(path: Path, needle: bytes, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_bytes():
            return True
        time.sleep(0.05)
    return False
