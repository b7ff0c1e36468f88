"""One client connection: HTTP/1.1 on ``asyncio.Protocol`` with httptools.

Requests are routed by path (:class:`~baatcheet.listener.routing.Router`): the
Socket.IO path goes to the Engine.IO server, WebSocket endpoints and plain HTTP
endpoints (health, metrics) to their handlers, and everything else to a hosted ASGI
application (the REST API, static files). Parsing uses httptools (the parser uvicorn
uses); WebSocket frames are handled by
:class:`~baatcheet.engine.websocket.WebSocketConnection` after the upgrade, on the
same protocol object, so an upgraded connection costs no extra objects.

Limits and timeouts, as Node's ``http`` server has them (see :class:`HttpLimits`):

* The request line and the header block are bounded *as bytes arrive*: the URL is
  counted in ``on_url`` (httptools hands it over piece by piece), each header in
  ``on_header``, and, because httptools buffers a header until its line ends, the raw
  bytes fed while a request's head is incomplete are capped too. A peer streaming an
  endless URL is answered 414 and closed after at most the limit; an oversized header
  block gets 431.
* Timeouts cost nothing per request: each connection keeps one ``deadline`` float (loop
  time), updated at request boundaries, and one periodic sweep per listener closes the
  connections whose deadline passed. A request whose headers (or whole body) did not
  arrive in time gets 408; a connection idle between requests is closed quietly.
  Upgraded WebSocket connections leave the sweep, and a request being answered (such as
  a long-poll GET the engine holds on purpose) has no deadline: the Engine.IO heartbeat
  covers those.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import IntEnum
from typing import Final

import httptools

from baatcheet.engine.asgi_bridge import run_asgi_request
from baatcheet.engine.http import HttpRequest, status_line
from baatcheet.engine.server import Upgrader
from baatcheet.engine.websocket import WebSocketConnection
from baatcheet.listener.routing import Router

__all__ = ["HttpConnection"]

log = logging.getLogger(__name__)

_MAX_PIPELINED: Final = 8
"""Pipelined requests a connection may have waiting before it is read no further."""
_TEXT: Final = [(b"content-type", b"text/plain; charset=UTF-8")]
_NEVER: Final = float("inf")
_HEADER_SEPARATORS: Final = len(b": \r\n")
"""Bytes a header line has besides its name and value."""
_REQUEST_LINE_SEPARATORS: Final = len(b"  HTTP/1.1")
"""Bytes a request line has besides its method and URL (its CRLF is not counted)."""


def _now() -> float:
    return asyncio.get_running_loop().time()


class _Phase(IntEnum):
    """Where the parser is in the current request, which decides what a deadline means."""

    IDLE = 0
    """Between requests (or before the first): the deadline is the keep-alive timeout."""
    HEAD = 1
    """Request line and headers arriving: headers and request timeouts."""
    BODY = 2
    """Body arriving: the request timeout."""


class _RefusedError(Exception):
    """Ends the parsing of a request the server will not read further (answered, closed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Responder:
    """Answers one request on an :class:`HttpConnection`."""

    __slots__ = ("_abort", "_conn", "_head", "_keep_alive", "answered")

    def __init__(self, conn: HttpConnection, keep_alive: bool, head: bool) -> None:
        self._conn = conn
        self._keep_alive = keep_alive
        self._head = head
        """A HEAD request: the answer has GET's headers, its content-length, and no body
        (RFC 9110 §9.3.2); a body sent anyway would be read as the next response."""
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
        if not self._head:
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
        "_body_bytes",
        "_busy",
        "_current",
        "_head_left",
        "_header_left",
        "_headers",
        "_line_bytes",
        "_parser",
        "_phase",
        "_queue",
        "_reading_paused",
        "_responder",
        "_router",
        "_scheme",
        "_started",
        "_upgrading",
        "_url_parts",
        "_writing_paused",
        "deadline",
        "transport",
        "ws",
    )

    def __init__(self, router: Router, scheme: str = "http") -> None:
        self._router = router
        self._scheme = scheme
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.ws: WebSocketConnection | None = None
        self._url_parts: list[bytes] = []
        self._line_bytes = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_left = 0
        self._head_left = router.head_bytes
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._current: HttpRequest | None = None
        self._queue: list[HttpRequest] = []
        self._reading_paused = False
        self._writing_paused = False
        self._busy = False
        self._responder: _Responder | None = None
        self._phase = _Phase.IDLE
        self._started = -1.0
        """When the current request's clocks started; negative: at its first byte."""
        self._upgrading = False
        """True while an upgrade request is being answered in this loop turn."""
        self.deadline = _NEVER
        """Loop time at which the sweep calls :meth:`expire`."""

    @property
    def idle(self) -> bool:
        """True between HTTP requests: nothing is lost by closing it now."""
        return self.ws is None and not self._busy

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport
        limits = self._router.limits
        now = _now()
        # The first request's clocks run from the opening; until its first byte arrives
        # the connection is idle, and an idle connection gets the keep-alive timeout.
        self._started = now
        self.deadline = now + min(limits.keep_alive_timeout_s, limits.headers_timeout_s)
        self._router.watch(self)

    def pause_writing(self) -> None:
        """The transport's write buffer is full: answer no more pipelined requests."""
        self._router.observer.write_paused()
        if self.ws is None:
            self._writing_paused = True

    def resume_writing(self) -> None:
        """The write buffer drained: go on with the pipelined requests."""
        if self._writing_paused:
            self._writing_paused = False
            self._next_request()

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        if ws is not None:
            ws.receive(data)
            return
        try:
            while data:
                # While a head is incomplete, feed at most what is left of its byte cap,
                # so an endless header line stops at the cap (httptools would buffer it).
                if self._phase is _Phase.BODY:
                    piece, data = data, b""
                elif len(data) <= self._head_left:
                    self._head_left -= len(data)
                    piece, data = data, b""
                else:
                    left = self._head_left
                    piece, data = data[:left], data[left:]
                    self._head_left = 0
                try:
                    self._parser.feed_data(piece)
                except httptools.HttpParserUpgrade as upgrade:
                    self._start_upgrade(piece[upgrade.args[0] :] + data)
                    return
                if self._head_left == 0 and self._phase is not _Phase.BODY:
                    raise _RefusedError(431, "request header fields too large")
        except _RefusedError as refusal:
            self._fail(refusal.status, refusal.message)
        except httptools.HttpParserError as exc:
            self._parser_failed(exc)

    def _parser_failed(self, error: httptools.HttpParserError) -> None:
        # A method of its own: a local naming the refusal in data_received would tie that
        # frame to the refusal's traceback, which holds the frame, in a reference cycle.
        refusal = error.__context__
        if isinstance(refusal, _RefusedError):
            self._fail(refusal.status, refusal.message)
        else:
            self._fail(400, f"malformed HTTP request: {error}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._router.forget(self)
        ws = self.ws
        if ws is not None:
            ws.connection_lost()
            return
        # The parser holds this object's bound methods, a reference cycle: letting go of
        # it frees the connection now, not at the next (tuned, rare) garbage collection.
        del self._parser
        responder = self._responder
        self._responder = None
        if responder is not None and not responder.answered:
            responder.aborted()

    # -- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        limits = self._router.limits
        started = self._started
        if started < 0:
            started = self._started = _now()
        self._phase = _Phase.HEAD
        self.deadline = started + min(limits.headers_timeout_s, limits.request_timeout_s)
        self._url_parts = []
        self._line_bytes = 0
        self._headers = []
        self._header_left = limits.max_header_bytes
        self._body = []
        self._body_bytes = 0

    def on_url(self, url: bytes) -> None:
        # Called once per piece of URL that has arrived: parts are joined once, at the end.
        self._url_parts.append(url)
        self._line_bytes += len(url)
        line = self._line_bytes + len(self._parser.get_method()) + _REQUEST_LINE_SEPARATORS
        if line > self._router.limits.max_request_line_bytes:
            raise _RefusedError(414, "request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_left -= len(name) + len(value) + _HEADER_SEPARATORS
        if self._header_left < 0:
            raise _RefusedError(431, "request header fields too large")
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self._phase = _Phase.BODY
        self.deadline = self._started + self._router.limits.request_timeout_s

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self._router.max_body_bytes:
            self._body.clear()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        # The request is whole: it is answered before any clock runs again (a held
        # long-poll GET included), and the next request's clocks start at its first byte.
        self._phase = _Phase.IDLE
        self._started = -1.0
        self.deadline = _NEVER
        self._head_left = self._router.head_bytes
        parsed = httptools.parse_url(b"".join(self._url_parts))
        self._url_parts = []
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
        proxies = self._router.proxies
        if proxies.enabled:
            request.client, request.scheme = proxies.resolve(
                request.client,
                request.header(b"x-forwarded-for"),
                request.header(b"x-forwarded-proto"),
                request.scheme,
            )
        if self._parser.should_upgrade():
            self._current = request
            return
        if self._body_bytes > self._router.max_body_bytes:
            request.method = "!TOO_LARGE"
        self._queue.append(request)
        self._next_request()
        if len(self._queue) >= _MAX_PIPELINED and not self._reading_paused:
            # Requests pipelined behind one still being answered (a held long-poll GET),
            # or by a client that does not read its answers: read no more until they are
            # answered, so neither the queue nor the write buffer grows without bound.
            self._reading_paused = True
            if self.transport is not None:
                self.transport.pause_reading()

    # -- timeouts ------------------------------------------------------------------------

    def expire(self, now: float) -> None:
        """The deadline passed: answer 408 or close, as the connection's state calls for.

        A connection that was already told to close and still is not gone (its peer does
        not read the last answer) is aborted one keep-alive period later.
        """
        transport = self.transport
        if transport is None:
            return
        keep_alive = self._router.limits.keep_alive_timeout_s
        if transport.is_closing():
            transport.abort()
            return
        if self._phase is _Phase.IDLE:
            if transport.get_write_buffer_size():
                # The last answer is still going out: the connection is not idle yet.
                self.deadline = now + keep_alive
                return
            transport.close()
        elif self._busy:
            # A pipelined request is stuck while an earlier one is being answered: a 408
            # cannot go out ahead of that answer, so the connection just ends.
            transport.close()
        else:
            self._fail(408, "request timeout")
        self.deadline = now + keep_alive

    # -- dispatch ------------------------------------------------------------------------

    def _next_request(self) -> None:
        if self._reading_paused and len(self._queue) < _MAX_PIPELINED:
            self._reading_paused = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        while self._queue and not self._busy and not self._writing_paused:
            request = self._queue.pop(0)
            responder = _Responder(self, request.keep_alive, request.method == "HEAD")
            self._responder = responder
            self._busy = True
            if request.method == "!TOO_LARGE":
                engine = self._router.engine
                if engine is not None and request.path in self._router.engine_paths:
                    engine.refuse_oversized(request, responder)
                else:
                    responder.respond(413, _TEXT, b"request body too large")
                continue
            self._dispatch(request, responder)

    def _dispatch(self, request: HttpRequest, responder: _Responder) -> None:
        router = self._router
        engine = router.engine
        handler = (
            engine.handle_http
            if engine is not None and request.path in router.engine_paths
            else router.http_endpoints.get(request.path)
        )
        if handler is not None:
            try:
                handler(request, responder)
            except Exception:
                log.exception("failed to answer %s %s", request.method, request.path)
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
        if not keep_alive or self._router.all_closed is not None:
            # Shutting down: this connection is done once its answer is out.
            transport.close()
            return
        self._next_request()
        if not self._busy and self._phase is _Phase.IDLE:
            self.deadline = _now() + self._router.limits.keep_alive_timeout_s

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
        # A 101 written in this turn waits for the first frame (see WebSocketConnection.accept).
        self._upgrading = True
        try:
            if router.engine is not None and request.path in router.engine_paths:
                router.engine.handle_upgrade(request, upgrader)
                return
            endpoint = router.websocket_endpoints.get(request.path)
            if endpoint is None:
                self._reject_upgrade(404, _TEXT, b"no WebSocket endpoint at this path")
                return
            endpoint(request, upgrader)
        finally:
            self._upgrading = False
            if self.ws is not None:
                self.ws.release_answer()

    def _accept_websocket(
        self, request: HttpRequest, max_size: int, rest: bytes
    ) -> WebSocketConnection | None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return None
        target = request.path + ("?" + request.query_string if request.query_string else "")
        ws = WebSocketConnection(transport, max_size)
        if not ws.accept(request.method, target, request.headers, hold=self._upgrading):
            return None
        self.ws = ws
        # HTTP is over on this connection: let go of the parser and request buffers
        # (data_received never reaches the parser again once self.ws is set), and of the
        # HTTP timeouts (the WebSocket has the Engine.IO heartbeat or its own pings).
        del self._parser
        self._headers = []
        self._body = []
        self._router.timed.discard(self)
        self.deadline = _NEVER
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
