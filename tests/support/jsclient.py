"""Drive the official socket.io-client (Node) from asyncio tests.

``tests/js/driver.mjs`` runs many named client sockets in one Node process and speaks JSON
lines on stdin/stdout (the protocol is described at the top of that file). This module
wraps it::

    async with JsDriver() as js:
        client = await js.connect(f"http://127.0.0.1:{port}/chat", auth={"token": t})
        await client.wait("connect")
        assert await client.emit_with_ack("echo", b"\\x00") == [b"\\x00"]
        assert await client.next_event("news") == ["hello"]

Every report the driver sends about a client (``connect``, ``connect_error``,
``disconnect``, ``event``, ``ack``, ``ping``, ``reconnect_attempt``, ``reconnect``,
``reconnect_error``, ``reconnect_failed``, ``upgrade``, ``close``, ``raw_sent``) is kept
in ``client.history`` and queued until a ``wait`` consumes it, so nothing the server does
between two awaits is lost. Waits that time out raise ``DriverError`` whose message shows
what the client did see, which is usually the whole diagnosis.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections import deque
from types import TracebackType
from typing import Any, Literal, Self

from baatcheet.errors import AckTimeoutError
from support.paths import JS_DIR, SETUP_HINT

__all__ = ["DriverError", "JsClient", "JsDriver", "Report", "from_wire", "to_wire"]

Report = dict[str, Any]
"""One JSON line from the driver, binary values already turned back into ``bytes``."""

_DEFAULT_TIMEOUT_S = 5.0
_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 5.0
_RECENT_LINES = 40
_LINE_LIMIT = 64 * 1024 * 1024


class DriverError(AssertionError):
    """The driver refused a command, died, or a wait ran out of time.

    It is an ``AssertionError`` because in a test it always means the expectation failed;
    pytest then prints the message, which carries the recent driver output.
    """


def to_wire(value: Any) -> Any:
    """Turn ``bytes`` (anywhere inside lists, tuples and dicts) into ``{"$bin": base64}``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bin": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """Undo ``to_wire``: ``{"$bin": base64}`` becomes ``bytes`` again."""
    if isinstance(value, list):
        return [from_wire(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and "$bin" in value:
            return base64.b64decode(value["$bin"])
        return {key: from_wire(item) for key, item in value.items()}
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class JsClient:
    """One named socket.io-client socket living in the driver process.

    Create it with ``JsDriver.connect``. The socket starts connecting at once (as ``io()``
    does); call ``wait("connect")`` before assuming it is connected.
    """

    def __init__(self, driver: JsDriver, client_id: str, ack_timeout: float | None) -> None:
        self.driver = driver
        self.id = client_id
        self.ack_timeout = ack_timeout
        """The ``ackTimeout`` option in seconds, if the client was created with one."""
        self.history: list[Report] = []
        """Every report about this client, in arrival order (never consumed)."""
        self._unseen: list[Report] = []
        self._arrived = asyncio.Event()

    def _push(self, report: Report) -> None:
        self.history.append(report)
        self._unseen.append(report)
        self._arrived.set()

    def _wake(self) -> None:
        self._arrived.set()

    def _take(self, kind: str, match: dict[str, Any]) -> Report | None:
        for index, report in enumerate(self._unseen):
            if report.get("kind") == kind and all(report.get(k) == v for k, v in match.items()):
                return self._unseen.pop(index)
        return None

    # A harness deadline, not a cancellation scope: on expiry it explains what was seen.
    async def wait(self, kind: str, timeout: float | None = None, **match: Any) -> Report:  # noqa: ASYNC109
        """Return the oldest not-yet-consumed report of ``kind`` whose fields equal ``match``.

        Args:
            kind: ``connect``, ``event``, ``disconnect``, ... (see the module docstring).
            timeout: seconds to wait; the driver's default (5 s) when None.
            **match: fields the report must have, e.g. ``name="news"`` for an event.

        Raises:
            DriverError: nothing matching arrived in time, or the driver died.
        """
        limit = self.driver.default_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                while True:
                    found = self._take(kind, match)
                    if found is not None:
                        return found
                    self.driver.raise_if_dead()
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            wanted = f"{kind} {match}" if match else kind
            raise DriverError(
                f"client {self.id!r}: no {wanted} within {limit:g}s\n{self.describe()}"
            ) from None

    async def next_event(self, name: str, timeout: float | None = None) -> list[Any]:  # noqa: ASYNC109
        """Wait for the server to emit ``name`` to this client and return the event's args."""
        report = await self.wait("event", timeout, name=name)
        args: list[Any] = report["args"]
        return args

    async def assert_silent(self, kind: str = "event", within: float = 0.3, **match: Any) -> None:
        """Fail if a report of ``kind`` matching ``match`` arrives within ``within`` seconds."""
        with contextlib.suppress(DriverError):
            report = await self.wait(kind, within, **match)
            raise AssertionError(f"client {self.id!r}: unexpected {report}\n{self.describe()}")

    async def emit(
        self, event: str, *args: Any, volatile: bool = False, compress: bool = True
    ) -> None:
        """Emit ``event`` to the server without asking for an acknowledgement."""
        await self.driver.command(
            "emit", id=self.id, event=event, args=list(args), volatile=volatile, compress=compress
        )

    # The client itself enforces this timeout (socket.timeout(ms)), so it is a parameter.
    async def emit_with_ack(
        self,
        event: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[Any]:
        """Emit ``event`` asking for an ack and return the ack's arguments.

        Args:
            timeout: when given, the *client* enforces it (``socket.timeout(ms)``) and a
                late server raises ``AckTimeoutError``; otherwise the driver's default
                bounds how long the test waits.

        Raises:
            AckTimeoutError: the client gave up waiting (timeout or ``ackTimeout`` option).
            DriverError: no answer reached the test in time.
        """
        timeout_ms = None if timeout is None else round(timeout * 1000)
        reply = await self.driver.command(
            "emit", id=self.id, event=event, args=list(args), ack=True, timeout=timeout_ms
        )
        limit = timeout if timeout is not None else self.ack_timeout
        report = await self.wait(
            "ack", (limit or 0) + self.driver.default_timeout, req=reply["req"]
        )
        if "error" in report:
            raise AckTimeoutError(event, limit or 0.0)
        result: list[Any] = report["args"]
        return result

    async def on_ack(self, event: str, reply: list[Any] | Literal["never"]) -> None:
        """Answer the server's ack requests for ``event`` (``"*"``: any event) automatically.

        ``"never"`` leaves them unanswered (and answerable later with ``reply_ack``).
        """
        wire_reply = reply if reply == "never" else to_wire(list(reply))
        await self.driver.command("on_ack", id=self.id, event=event, reply=wire_reply)

    async def reply_ack(self, ack_id: int, *args: Any) -> None:
        """Answer one ack request by the ``ack_id`` of its ``event`` report."""
        await self.driver.command("reply_ack", id=self.id, ack_id=ack_id, args=list(args))

    async def disconnect(self) -> None:
        """``socket.disconnect()``: leave the namespace on purpose (no reconnection)."""
        await self.driver.command("disconnect", id=self.id)

    async def open(self) -> None:
        """``socket.connect()``: connect again after a disconnect."""
        await self.driver.command("open", id=self.id)

    async def close_engine(self) -> None:
        """Close the Engine.IO connection from the client (reason ``forced close``).

        The socket then reconnects when reconnection is on, as after any lost connection.
        """
        await self.driver.command("close_engine", id=self.id)

    async def drop_transport(self) -> None:
        """Close the WebSocket without Engine.IO's close packet, as a dropped network does."""
        await self.driver.command("drop_transport", id=self.id)

    async def stop_pong(self) -> None:
        """Stop answering the server's heartbeat PINGs (this and later engines)."""
        await self.driver.command("stop_pong", id=self.id)

    async def send_raw(self, data: str | bytes) -> None:
        """Write one raw Engine.IO packet (or polling payload) on the current transport."""
        await self.driver.command("send_raw", id=self.id, data=data)

    async def state(self) -> dict[str, Any]:
        """The socket's ``connected``, ``active``, ``sid``, ``recovered`` and ``transport``."""
        reply = await self.driver.command("state", id=self.id)
        result: dict[str, Any] = reply["result"]
        return result

    def describe(self) -> str:
        """Recent reports for this client and the driver's stderr, for failure messages."""
        recent = [json.dumps(report, default=repr) for report in self.history[-_RECENT_LINES:]]
        body = "\n".join(f"  {line}" for line in recent) or "  (nothing)"
        return f"recent reports for {self.id!r}:\n{body}\n{self.driver.describe_stderr()}"


class JsDriver:
    """The Node process hosting the clients; use as ``async with JsDriver() as js``."""

    def __init__(self, *, default_timeout: float = _DEFAULT_TIMEOUT_S) -> None:
        self.default_timeout = default_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._pending: dict[int, asyncio.Future[Report]] = {}
        self._clients: dict[str, JsClient] = {}
        self._requests = itertools.count(1)
        self._names = itertools.count(1)
        self._stderr: deque[str] = deque(maxlen=_RECENT_LINES)
        self._ready: asyncio.Future[Report] | None = None
        self._exit_message: str | None = None

    async def __aenter__(self) -> Self:
        node = shutil.which("node")
        if node is None:
            raise DriverError(f"node is not on PATH: {SETUP_HINT}")
        if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
            raise DriverError(f"{JS_DIR}/node_modules has no socket.io-client: {SETUP_HINT}")
        self._ready = asyncio.get_running_loop().create_future()
        self._proc = await asyncio.create_subprocess_exec(
            node,
            "driver.mjs",
            cwd=JS_DIR,
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
                await asyncio.shield(self._ready)
        except TimeoutError:
            await self._stop()
            raise DriverError(f"driver did not start\n{self.describe_stderr()}") from None
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            # Closing stdin asks the driver to disconnect its sockets and exit.
            with contextlib.suppress(ConnectionError):
                proc.stdin.close()
            try:
                async with asyncio.timeout(_STOP_TIMEOUT_S):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in self._readers:
            await task

    async def connect(self, url: str, *, client_id: str | None = None, **opts: Any) -> JsClient:
        """Create a client socket: ``io(url, opts)`` with ``forceNew`` on by default.

        Option names may be written in snake_case (``ack_timeout``) or as in JS
        (``ackTimeout``); bytes inside ``auth`` or ``query`` become Buffers.
        """
        name = client_id if client_id is not None else f"c{next(self._names)}"
        if name in self._clients:
            raise ValueError(f"client id {name!r} is already used by this driver")
        js_opts = {_camel(key): value for key, value in opts.items()}
        ack_timeout_ms = js_opts.get("ackTimeout")
        ack_timeout = None if ack_timeout_ms is None else ack_timeout_ms / 1000
        client = JsClient(self, name, ack_timeout)
        self._clients[name] = client
        await self.command("connect", id=name, url=url, opts=js_opts)
        return client

    async def command(self, op: str, **fields: Any) -> Report:
        """Send one command and return the driver's reply (``req``, ``ok``, ``result``).

        Raises:
            DriverError: the driver rejected the command or did not answer in time.
        """
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise DriverError("the driver is not running: use 'async with JsDriver() as js'")
        self.raise_if_dead()
        req = next(self._requests)
        future: asyncio.Future[Report] = asyncio.get_running_loop().create_future()
        self._pending[req] = future
        line = json.dumps({"op": op, "req": req, **to_wire(fields)}) + "\n"
        proc.stdin.write(line.encode())
        try:
            async with asyncio.timeout(self.default_timeout):
                await proc.stdin.drain()
                reply = await future
        except TimeoutError:
            raise DriverError(
                f"driver did not answer {op!r} within {self.default_timeout:g}s\n"
                f"{self.describe_stderr()}"
            ) from None
        finally:
            self._pending.pop(req, None)
        if not reply.get("ok"):
            raise DriverError(f"driver refused {op!r}: {reply.get('error')}")
        return reply

    def raise_if_dead(self) -> None:
        """Raise ``DriverError`` with the process's last words if the driver has exited."""
        if self._exit_message is not None:
            raise DriverError(f"{self._exit_message}\n{self.describe_stderr()}")

    def describe_stderr(self) -> str:
        """The driver's recent stderr lines, for failure messages."""
        lines = "\n".join(f"  {line}" for line in self._stderr) or "  (empty)"
        return f"driver stderr:\n{lines}"

    def _dispatch(self, report: Report) -> None:
        kind = report.get("kind")
        if kind == "ready":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(report)
        elif kind == "reply":
            future = self._pending.get(report.get("req") or -1)
            if future is not None and not future.done():
                future.set_result(report)
        else:
            client = self._clients.get(report.get("id", ""))
            if client is not None:
                client._push(report)

    async def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while line := await proc.stdout.readline():
            try:
                report = from_wire(json.loads(line))
            except json.JSONDecodeError:
                self._stderr.append(f"(stdout, not JSON) {line.decode(errors='replace')!r}")
                continue
            self._dispatch(report)
        returncode = await proc.wait()
        self._exit_message = f"the driver process exited with code {returncode}"
        error = DriverError(f"{self._exit_message}\n{self.describe_stderr()}")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        for client in self._clients.values():
            client._wake()

    async def _read_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        while line := await proc.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip())
