"""The one listening socket: HTTP/1.1 on ``asyncio.Protocol`` with httptools.

Requests are routed by path: the Socket.IO path goes to the Engine.IO server, the
plain WebSocket path to its endpoint, and everything else to a hosted ASGI
application (the REST API, static files, metrics). Parsing uses httptools (the
parser uvicorn uses); WebSocket frames are handled by
:class:`~baatcheet.engine.websocket.WebSocketConnection` after the upgrade, on the
same protocol object, so an upgraded connection costs no extra objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

import httptools
from websockets.datastructures import Headers
from websockets.http11 import Request

from baatcheet.engine.asgi_bridge import AsgiApp, run_asgi_request
from baatcheet.engine.http import HttpRequest, status_line
from baatcheet.engine.server import EngineServer, Upgrader
from baatcheet.engine.websocket import WebSocketConnection

__all__ = ["HttpConnection", "Router", "close_connections"]

log = logging.getLogger(__name__)

_MAX_HEADER_BYTES: Final = 64 * 1024
_TEXT: Final = [(b"content-type", b"text/plain; charset=UTF-8")]

UpgradeHandler = Callable[[HttpRequest, Upgrader], None]


async def close_connections(router: Router, grace: float) -> None:
    """Close idle HTTP connections, give the rest ``grace`` seconds, then abort them."""
    for connection in list(router.connections):
        if connection.idle and connection.transport is not None:
            connection.transport.close()
    if router.connections:
        router.all_closed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(router.all_closed.wait(), grace)
    for connection in list(router.connections):
        if connection.transport is not None:
            connection.transport.abort()
    await asyncio.sleep(0)


class Router:
    """Decides who answers a request, by path."""

    def __init__(
        self,
        engine: EngineServer,
        engine_path: str,
        websocket_endpoints: dict[str, UpgradeHandler],
        app: AsgiApp | None,
        max_body_bytes: int,
    ) -> None:
        self.engine = engine
        self.engine_paths = frozenset({engine_path.rstrip("/") + "/", engine_path.rstrip("/")})
        self.websocket_endpoints = websocket_endpoints
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.app_state: dict[str, object] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.connections: set[HttpConnection] = set()
        """Open client connections, so shutdown can close them all."""
        self.all_closed: asyncio.Event | None = None
        """Set when the last connection goes, while shutdown waits for that."""

    def forget(self, connection: HttpConnection) -> None:
        """A connection is gone."""
        self.connections.discard(connection)
        if not self.connections and self.all_closed is not None:
            self.all_closed.set()
        """Hosted-app requests in flight (held so they are not garbage-collected)."""


class _Responder:
    """Answers one request on an :class:`HttpConnection`."""

    __slots__ = ("_abort", "_conn", "_keep_alive", "answered")

    def __init__(self, conn: HttpConnection, keep_alive: bool) -> None:
        self._conn = conn
        self._keep_alive = keep_alive
        self._abort: Callable[[], None] | None = None
        self.answered = False

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if self.answered:
            return
        self.answered = True
        self._abort = None
        parts = [status_line(status)]
        for name, value in headers:
            parts.append(name + b": " + value + b"\r\n")
        parts.append(b"content-length: " + str(len(body)).encode() + b"\r\n")
        if not self._keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        parts.append(body)
        self._conn.finish_response(b"".join(parts), self._keep_alive)

    def on_abort(self, callback: Callable[[], None] | None) -> None:
        self._abort = callback

    def aborted(self) -> None:
        callback = self._abort
        self.answered = True
        self._abort = None
        if callback is not None:
            callback()


class HttpConnection(asyncio.Protocol):
    """One client TCP connection: HTTP requests, then perhaps a WebSocket."""

    __slots__ = (
        "_body",
        "_body_too_large",
        "_busy",
        "_current",
        "_header_bytes",
        "_headers",
        "_parser",
        "_queue",
        "_responder",
        "_router",
        "_scheme",
        "_url",
        "transport",
        "ws",
    )

    def __init__(self, router: Router, scheme: str = "http") -> None:
        self._router = router
        self._scheme = scheme
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.ws: WebSocketConnection | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_too_large = False
        self._current: HttpRequest | None = None
        self._queue: list[HttpRequest] = []
        self._busy = False
        self._responder: _Responder | None = None

    @property
    def idle(self) -> bool:
        """True between HTTP requests: nothing is lost by closing it now."""
        return self.ws is None and not self._busy

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport
        self._router.connections.add(self)

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        if ws is not None:
            ws.receive(data)
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0]
            self._start_upgrade(data[offset:])
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed HTTP request: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._router.forget(self)
        ws = self.ws
        if ws is not None:
            ws.connection_lost()
            return
        responder = self._responder
        self._responder = None
        if responder is not None and not responder.answered:
            responder.aborted()

    # -- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._body = []
        self._body_too_large = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > _MAX_HEADER_BYTES:
            raise httptools.HttpParserError("request headers too large")
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        if self._body_too_large:
            return
        self._body.append(body)
        if sum(map(len, self._body)) > self._router.max_body_bytes:
            self._body_too_large = True
            self._body = []

    def on_message_complete(self) -> None:
        parsed = httptools.parse_url(self._url)
        transport = self.transport
        client = transport.get_extra_info("peername") if transport is not None else None
        request = HttpRequest(
            method=self._parser.get_method().decode(),
            path=parsed.path.decode("utf-8", "replace"),
            query_string=(parsed.query or b"").decode("latin-1"),
            headers=self._headers,
            client=(client[0], client[1]) if isinstance(client, tuple) else None,
            scheme=self._scheme,
            body=b"".join(self._body),
            keep_alive=bool(self._parser.should_keep_alive()),
        )
        if self._parser.should_upgrade():
            self._current = request
            return
        if self._body_too_large:
            request.body = b""
            request.method = "!TOO_LARGE"
        self._queue.append(request)
        if not self._busy:
            self._next_request()

    # -- dispatch ------------------------------------------------------------------------

    def _next_request(self) -> None:
        while self._queue and not self._busy:
            request = self._queue.pop(0)
            responder = _Responder(self, request.keep_alive)
            self._responder = responder
            self._busy = True
            if request.method == "!TOO_LARGE":
                responder.respond(413, _TEXT, b"request body too large")
                continue
            self._dispatch(request, responder)

    def _dispatch(self, request: HttpRequest, responder: _Responder) -> None:
        router = self._router
        if request.path in router.engine_paths:
            try:
                router.engine.handle_http(request, responder)
            except Exception:
                log.exception("engine failed on %s %s", request.method, request.path)
                responder.respond(500, _TEXT, b"internal server error")
            return
        if router.app is not None:
            task = asyncio.ensure_future(
                run_asgi_request(router.app, request, responder, router.app_state)
            )
            router.tasks.add(task)
            task.add_done_callback(router.tasks.discard)
            return
        responder.respond(404, _TEXT, b"not found")

    def finish_response(self, data: bytes, keep_alive: bool) -> None:
        """Write a complete response; called by the request's responder."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        self._responder = None
        self._busy = False
        if not keep_alive:
            transport.close()
            return
        self._next_request()

    # -- WebSocket upgrade ---------------------------------------------------------------

    def _start_upgrade(self, rest: bytes) -> None:
        request = self._current
        self._current = None
        if request is None:
            self._fail(400, "bad upgrade request")
            return
        router = self._router
        upgrader = Upgrader(
            accept=lambda max_size: self._accept_websocket(request, max_size, rest),
            reject=self._reject_upgrade,
        )
        if request.path in router.engine_paths:
            router.engine.handle_upgrade(request, upgrader)
            return
        endpoint = router.websocket_endpoints.get(request.path)
        if endpoint is None:
            self._reject_upgrade(404, _TEXT, b"no WebSocket endpoint at this path")
            return
        endpoint(request, upgrader)

    def _accept_websocket(
        self, request: HttpRequest, max_size: int, rest: bytes
    ) -> WebSocketConnection | None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return None
        headers = Headers()
        for name, value in request.headers:
            headers[name.decode("latin-1")] = value.decode("latin-1")
        target = request.path + ("?" + request.query_string if request.query_string else "")
        ws = WebSocketConnection(transport, max_size)
        if not ws.accept(Request(path=target, headers=headers)):
            return None
        self.ws = ws
        # HTTP is over on this connection: let go of the parser and request buffers
        # (data_received never reaches the parser again once self.ws is set).
        del self._parser
        self._headers = []
        self._body = []
        if rest:
            asyncio.get_running_loop().call_soon(ws.receive, rest)
        return ws

    def _reject_upgrade(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self._fail(status, body.decode("utf-8", "replace"), headers)

    def _fail(
        self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        body = message.encode()
        head = [status_line(status)]
        for name, value in headers or _TEXT:
            head.append(name + b": " + value + b"\r\n")
        head.append(
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
        )
        transport.write(b"".join(head) + body)
        transport.close()
