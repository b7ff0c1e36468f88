"""Run ``tests/js/cluster_server.mjs``: a Node socket.io server in a Redis cluster, plus an emitter.

::

    async with NodeClusterServer(redis_url, prefix="t1", namespaces=["/chat"]) as node:
        url = f"http://127.0.0.1:{node.port}"
        await node.command("emit", to=["room1"], event="news", args=[1])
        assert await node.command("server_count") == 3
        report = await node.wait("server_side", event="ping")

Commands and reports are described at the top of the ``.mjs`` file. Binary values are
``bytes`` on this side (``{"$bin": …}`` on the wire, as with the client driver).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from support.jsclient import DriverError, Report, from_wire, to_wire
from support.paths import JS_DIR, SETUP_HINT

__all__ = ["NodeClusterServer"]

_START_TIMEOUT_S = 15.0
_COMMAND_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
_LINE_LIMIT = 64 * 1024 * 1024


class NodeClusterServer:
    """The Node process; use as ``async with NodeClusterServer(...) as node``.

    Args:
        redis_url: The Redis every node of the cluster shares.
        prefix: The cluster's channel prefix (the Node adapter's ``key``).
        namespaces: Namespaces besides ``/`` the Node server serves (and so subscribes).
        requests_timeout_ms: The Node adapter's ``requestsTimeout``.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str,
        namespaces: Iterable[str] = (),
        requests_timeout_ms: int = 5000,
    ) -> None:
        self._env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "PREFIX": prefix,
            "NAMESPACES": ",".join(namespaces),
            "REQUESTS_TIMEOUT_MS": str(requests_timeout_ms),
        }
        self.port = 0
        self.reports: list[Report] = []
        """Every unprompted report (connection, disconnect, server_side), in arrival order."""
        self._unseen: list[Report] = []
        self._arrived = asyncio.Event()
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._pending: dict[int, asyncio.Future[Report]] = {}
        self._next_req = 0
        self._ready: asyncio.Future[Report] | None = None
        self._stderr: deque[str] = deque(maxlen=40)

    async def __aenter__(self) -> Self:
        node = shutil.which("node")
        if node is None:
            raise DriverError(f"node is not on PATH: {SETUP_HINT}")
        if not (JS_DIR / "node_modules" / "@socket.io" / "redis-adapter").is_dir():
            raise DriverError(
                f"{JS_DIR}/node_modules has no @socket.io/redis-adapter: {SETUP_HINT}"
            )
        self._ready = asyncio.get_running_loop().create_future()
        self._proc = await asyncio.create_subprocess_exec(
            node,
            "cluster_server.mjs",
            cwd=JS_DIR,
            env=self._env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        self._readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                ready = await asyncio.shield(self._ready)
        except BaseException:
            await self._stop()
            raise
        self.port = int(ready["port"])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"http://127.0.0.1:{self.port}"

    async def command(self, op: str, **fields: Any) -> Any:
        """Run one command and return its ``result``.

        Raises:
            DriverError: The server refused the command, died, or did not answer in time.
        """
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise DriverError(f"the Node cluster server is not running\n{self.describe()}")
        self._next_req += 1
        req = self._next_req
        future: asyncio.Future[Report] = asyncio.get_running_loop().create_future()
        self._pending[req] = future
        proc.stdin.write((json.dumps({"op": op, "req": req, **to_wire(fields)}) + "\n").encode())
        try:
            async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                await proc.stdin.drain()
                reply = await future
        except TimeoutError:
            raise DriverError(
                f"no reply to {op} within {_COMMAND_TIMEOUT_S:g}s\n{self.describe()}"
            ) from None
        finally:
            self._pending.pop(req, None)
        if not reply.get("ok"):
            raise DriverError(f"{op} failed: {reply.get('error')}\n{self.describe()}")
        return reply.get("result")

    # A harness deadline: on expiry the error shows what did arrive.
    async def wait(self, kind: str, timeout: float = 5.0, **match: Any) -> Report:  # noqa: ASYNC109
        """The oldest unconsumed report of ``kind`` whose fields equal ``match``.

        Raises:
            DriverError: None arrived within ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for index, report in enumerate(self._unseen):
                        if report.get("kind") == kind and all(
                            report.get(key) == value for key, value in match.items()
                        ):
                            return self._unseen.pop(index)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise DriverError(f"no {kind} {match} within {timeout:g}s\n{self.describe()}") from None

    def describe(self) -> str:
        """Recent reports and stderr, for failure messages."""
        recent = "\n".join(f"  {json.dumps(r, default=repr)}" for r in self.reports[-20:])
        stderr = "\n".join(f"  {line}" for line in self._stderr) or "  (empty)"
        return f"Node cluster server reports:\n{recent or '  (none)'}\nstderr:\n{stderr}"

    async def _stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                proc.stdin.close()  # the server closes its sockets and Redis clients, then exits
            try:
                async with asyncio.timeout(_STOP_TIMEOUT_S):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in self._readers:
            await task

    async def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while line := await proc.stdout.readline():
            try:
                report = from_wire(json.loads(line))
            except json.JSONDecodeError:
                self._stderr.append(f"(stdout, not JSON) {line.decode(errors='replace')!r}")
                continue
            kind = report.get("kind")
            if kind == "ready" and self._ready is not None and not self._ready.done():
                self._ready.set_result(report)
            elif kind == "reply":
                future = self._pending.get(report.get("req") or -1)
                if future is not None and not future.done():
                    future.set_result(report)
            else:
                self.reports.append(report)
                self._unseen.append(report)
                self._arrived.set()
        code = await proc.wait()
        error = DriverError(f"the Node cluster server exited with code {code}\n{self.describe()}")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)

    async def _read_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        while line := await proc.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip())
