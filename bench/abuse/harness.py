"""What every abuse script needs: a real server, a logged-in canary, the server's memory.

An attack is only interesting next to what it costs everyone else, so each script runs
it against a real ``baatcheet serve`` process while a *canary* chat user keeps sending
acked messages and timing them. A script does::

    async with AbuseHarness(["--http-headers-timeout-s", "10"]) as h:
        h.canary.reset()
        ...  # attack 127.0.0.1:h.port
        print(h.canary.stats().line(), h.rss.peak_bytes)

Everything stays on loopback (127.0.0.1), and the server runs from this checkout's
virtual environment, so ``psutil`` watches the server process itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["AbuseHarness", "Canary", "RoundTrips", "RssSampler", "free_port", "mib"]

HOST = "127.0.0.1"
_NAMESPACE = "/chat"
_PASSWORD = "correct horse battery staple"
_JWT_SECRET = "abuse-harness-secret-that-is-long-enough-for-hs256"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def mib(size: float) -> str:
    """``size`` bytes as MiB with one decimal."""
    return f"{size / 2**20:,.1f} MiB"


@dataclass(frozen=True)
class RoundTrips:
    """The canary's acked messages over one window."""

    sent: int
    answered: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def line(self) -> str:
        """One printable line."""
        lost = self.sent - self.answered
        return (
            f"{self.answered}/{self.sent} acked ({lost} unanswered), round trip"
            f" p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms"
        )


def _rank(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


class Canary:
    """One chat user on ``/chat`` over a raw WebSocket, sending an acked message every tick.

    It speaks Engine.IO/Socket.IO text frames itself (answers ``2`` with ``3``, matches
    ``43/chat,<id>`` acks), so nothing between it and the server adds buffering or
    limits of its own. A message that is never acked counts as unanswered, and its time
    so far (until :meth:`stats`) counts as its round trip: a frozen server shows up as a
    long round trip, not as silence.
    """

    def __init__(self, port: int, token: str, interval_s: float) -> None:
        self._port = port
        self._token = token
        self._interval_s = interval_s
        self._ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ids = itertools.count(1)
        """Ack ids of ``message:send``; id 0 is the ``room:create`` at start."""
        self._sent_at: dict[int, float] = {}
        self._round_trips: list[float] = []
        self._sent = 0
        self.room_id: int | None = None
        self.closed_reason: str | None = None
        """Why the canary's connection ended, if it did (a canary should never be cut off)."""

    async def start(self) -> None:
        """Connect to ``/chat``, create a room, then send into it every interval."""
        url = f"ws://{HOST}:{self._port}/socket.io/?EIO=4&transport=websocket"
        ws = await connect(url, max_size=None)
        self._ws = ws
        opened = str(await ws.recv())
        if not opened.startswith("0"):
            raise RuntimeError(f"expected an Engine.IO OPEN packet, got {opened!r}")
        await ws.send(f"40{_NAMESPACE},{json.dumps({'token': self._token})}")
        while True:
            frame = str(await ws.recv())
            if frame == "2":
                await ws.send("3")
            elif frame.startswith(f"40{_NAMESPACE},"):
                break
            elif frame.startswith(f"44{_NAMESPACE},"):
                raise RuntimeError(f"/chat refused the canary: {frame}")
        room_ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._tasks.append(asyncio.create_task(self._read(room_ack)))
        name = f"canary-{uuid.uuid4().hex[:8]}"
        await self._emit(0, "room:create", {"name": name, "kind": "public"})
        answer = await asyncio.wait_for(room_ack, 30)
        if not answer.get("ok"):
            raise RuntimeError(f"room:create failed: {answer}")
        self.room_id = int(answer["room"]["id"])
        self._tasks.append(asyncio.create_task(self._send_forever()))

    async def _emit(self, ack_id: int, event: str, payload: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(f"42{_NAMESPACE},{ack_id}{json.dumps([event, payload])}")

    async def _send_forever(self) -> None:
        while True:
            ack_id = next(self._ids)
            self._sent_at[ack_id] = time.perf_counter()
            self._sent += 1
            body = {"roomId": self.room_id, "body": "canary", "clientId": uuid.uuid4().hex}
            try:
                await self._emit(ack_id, "message:send", body)
            except ConnectionClosed:
                return
            await asyncio.sleep(self._interval_s)

    async def _read(self, room_ack: asyncio.Future[Any]) -> None:
        assert self._ws is not None
        prefix = f"43{_NAMESPACE},"
        try:
            async for message in self._ws:
                frame = str(message)
                if frame == "2":
                    await self._ws.send("3")
                elif frame.startswith(prefix):
                    body = frame[len(prefix) :]
                    digits = len(body) - len(body.lstrip("0123456789"))
                    ack_id = int(body[:digits])
                    if ack_id == 0 and not room_ack.done():
                        room_ack.set_result(json.loads(body[digits:])[0])
                    sent_at = self._sent_at.pop(ack_id, None)
                    if sent_at is not None:
                        self._round_trips.append(time.perf_counter() - sent_at)
            self.closed_reason = "the server closed the canary's connection"
        except ConnectionClosed as exc:
            self.closed_reason = f"connection closed: {exc}"

    def reset(self) -> None:
        """Start a new measurement window (messages still in flight are forgotten)."""
        self._sent_at.clear()
        self._round_trips.clear()
        self._sent = 0

    def stats(self) -> RoundTrips:
        """Round trips since the last :meth:`reset`."""
        now = time.perf_counter()
        waiting = [now - sent_at for sent_at in self._sent_at.values()]
        ordered = sorted([*self._round_trips, *waiting])
        return RoundTrips(
            sent=self._sent,
            answered=len(self._round_trips),
            p50_ms=_rank(ordered, 0.5) * 1000,
            p99_ms=_rank(ordered, 0.99) * 1000,
            max_ms=(ordered[-1] if ordered else 0.0) * 1000,
        )

    async def stop(self) -> None:
        """Stop sending and close the connection."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._ws is not None:
            await self._ws.close()


class RssSampler:
    """Samples the server process's resident memory every 100 ms (and its read volume)."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak_bytes = self.current_bytes()
        self._task: asyncio.Task[None] | None = None

    def current_bytes(self) -> int:
        """The server's RSS right now."""
        return int(self._process.memory_info().rss)

    def read_bytes(self) -> int:
        """Bytes the server process has read through system calls so far (sockets included).

        The difference over an attack is what the server *accepted* from its peers;
        what the attacker wrote may be more, held in kernel socket buffers.
        """
        return int(self._process.io_counters().read_chars)

    def reset_peak(self) -> None:
        """Start a new peak window at the current RSS."""
        self.peak_bytes = self.current_bytes()

    def start(self) -> None:
        """Begin sampling in the background."""
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.peak_bytes = max(self.peak_bytes, self.current_bytes())
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class AbuseHarness:
    """A ``baatcheet serve`` process on 127.0.0.1 with a canary user attached.

    Args:
        server_flags: Extra ``baatcheet serve`` flags (e.g. ``["--http-keep-alive-timeout-s",
            "2"]``); the port, a fresh SQLite file and a JWT secret are always given.
        canary_interval_s: Time between the canary's messages.
    """

    def __init__(self, server_flags: Sequence[str] = (), *, canary_interval_s: float = 0.1):
        self.port = free_port()
        self._flags = list(server_flags)
        self._interval_s = canary_interval_s
        self._tmp = tempfile.TemporaryDirectory(prefix="baatcheet-abuse-")
        self._process: asyncio.subprocess.Process | None = None
        self._canary: Canary | None = None
        self._rss: RssSampler | None = None

    @property
    def canary(self) -> Canary:
        """The canary client (connected while the harness is entered)."""
        if self._canary is None:
            raise RuntimeError("the harness is not running")
        return self._canary

    @property
    def rss(self) -> RssSampler:
        """The server's memory sampler."""
        if self._rss is None:
            raise RuntimeError("the harness is not running")
        return self._rss

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._process is None:
            raise RuntimeError("the harness is not running")
        return self._process.pid

    @property
    def log_path(self) -> Path:
        """Where the server's output goes."""
        return Path(self._tmp.name) / "server.log"

    async def __aenter__(self) -> Self:
        data = Path(self._tmp.name)
        command = [
            sys.executable,
            "-m",
            "baatcheet.cli",
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--database-url",
            f"sqlite+aiosqlite:///{data / 'chat.db'}",
            "--jwt-secret",
            _JWT_SECRET,
            "--log-level",
            "warning",
            *self._flags,
        ]
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                *command, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        try:
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{self.port}", timeout=30) as http:
                await self._wait_healthy(http)
                answer = await http.post(
                    "/api/auth/register",
                    json={"username": f"canary_{uuid.uuid4().hex[:8]}", "password": _PASSWORD},
                )
                answer.raise_for_status()
                token = str(answer.json()["accessToken"])
            self._rss = RssSampler(self.pid)
            self._rss.start()
            self._canary = Canary(self.port, token, self._interval_s)
            await self._canary.start()
        except BaseException:
            tail = self.log_path.read_text(errors="replace")[-4000:]
            print(f"baatcheet serve output (tail):\n{tail}", file=sys.stderr)
            await self._stop_server()
            raise
        return self

    async def _wait_healthy(self, http: httpx.AsyncClient) -> None:
        assert self._process is not None
        async with asyncio.timeout(30):
            while True:
                if self._process.returncode is not None:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"baatcheet serve exited early:\n{tail}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._canary is not None:
            await self._canary.stop()
        if self._rss is not None:
            await self._rss.stop()
        await self._stop_server()

    async def _stop_server(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        self._tmp.cleanup()
