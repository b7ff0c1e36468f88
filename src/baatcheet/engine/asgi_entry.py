"""Baatcheet as an ASGI application, for mounting in FastAPI/Starlette under uvicorn.

The native listener (:mod:`baatcheet.engine.http_server`) is the fast path: it
writes each broadcast's pre-built frame straight to every socket. Under an ASGI
server every outgoing message must go through that server's ``send`` coroutine, so
here each connection gets a small writer task and a queue; it is slower (about
Node's speed in our measurements) but speaks the same protocol with the same
sessions, rooms and acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from baatcheet.engine.asgi_bridge import AsgiApp, Message, Receive, Scope, Send
from baatcheet.engine.frames import PreparedMessage
from baatcheet.engine.http import HttpRequest
from baatcheet.engine.server import EngineServer, Upgrader
from baatcheet.engine.websocket import CloseHandler, MessageHandler

__all__ = ["AsgiEntry"]

log = logging.getLogger(__name__)

_TEXT = [(b"content-type", b"text/plain; charset=UTF-8")]
_DECISION_TIMEOUT_S = 10.0
UpgradeHandler = Callable[[HttpRequest, Upgrader], None]


class _AsgiResponder:
    """Collects the engine's answer; the ASGI task awaits it."""

    __slots__ = ("_abort", "answer", "answered", "done")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.answer: tuple[int, list[tuple[bytes, bytes]], bytes] | None = None
        self.answered = False
        self._abort: Callable[[], None] | None = None

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if self.answered:
            return
        self.answered = True
        self.answer = (status, headers, body)
        self.done.set()

    def on_abort(self, callback: Callable[[], None] | None) -> None:
        self._abort = callback

    def aborted(self) -> None:
        callback = self._abort
        self._abort = None
        self.answered = True
        if callback is not None:
            callback()


class _AsgiWebSocket:
    """A WebSocket whose writes go through the ASGI server's ``send``."""

    def __init__(self, send: Send, max_message_bytes: int) -> None:
        self._send = send
        self._queue: deque[Message] = deque()
        self._buffered = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._reading = asyncio.Event()
        self._reading.set()
        self.max_message_bytes = max_message_bytes
        self.on_message: MessageHandler = lambda data: None
        self.on_close: CloseHandler = lambda code, reason: None
        self._queue.append({"type": "websocket.accept"})

    def buffered_bytes(self) -> int:
        return self._buffered

    def _put(self, message: Message, size: int) -> None:
        if self._closing:
            return
        self._queue.append(message)
        self._buffered += size
        self._wakeup.set()

    def send_prepared(self, message: PreparedMessage) -> None:
        for part in message.parts:
            if isinstance(part, str):
                self.send_text("4" + part)
            else:
                self.send_binary(bytes(part))

    def send_text(self, text: str) -> None:
        self._put({"type": "websocket.send", "text": text}, len(text))

    def send_binary(self, data: bytes) -> None:
        self._put({"type": "websocket.send", "bytes": data}, len(data))

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closing:
            return
        self._queue.append({"type": "websocket.close", "code": code, "reason": reason[:120]})
        self._closing = True
        self._wakeup.set()
        self._notify(code, reason)

    def abort(self, reason: str) -> None:
        self._queue.clear()
        self._buffered = 0
        self.close(1008, reason)

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def _notify(self, code: int, reason: str) -> None:
        handler = self.on_close
        self.on_close = lambda code, reason: None
        self.on_message = lambda data: None
        handler(code, reason)

    async def write_loop(self) -> None:
        """Drain the queue through ``send`` until the socket closes."""
        while True:
            while self._queue:
                message = self._queue.popleft()
                self._buffered -= len(message.get("text") or message.get("bytes") or b"")
                await self._send(message)
                if message["type"] == "websocket.close":
                    return
            if self._closing:
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    async def read_loop(self, receive: Receive) -> None:
        """Feed incoming messages to ``on_message`` until the peer leaves."""
        while True:
            if not self._reading.is_set():
                await self._reading.wait()
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                data: str | bytes | None = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                if len(data) > self.max_message_bytes:
                    self.close(1009, "message too big")
                    return
                self.on_message(data)
            elif kind == "websocket.disconnect":
                self._closing = True
                self._wakeup.set()
                self._notify(int(message.get("code", 1005)), "")
                return


class AsgiEntry:
    """An ASGI app serving the Socket.IO path and the plain WebSocket path.

    Everything else goes to ``fallback`` (or gets a 404), so it can also wrap a
    whole application.
    """

    def __init__(
        self,
        engine: EngineServer,
        engine_path: str,
        websocket_endpoints: dict[str, UpgradeHandler],
        fallback: AsgiApp | None = None,
    ) -> None:
        self._engine = engine
        self._engine_paths = frozenset({engine_path.rstrip("/") + "/", engine_path.rstrip("/")})
        self._endpoints = websocket_endpoints
        self._fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path = scope.get("path", "")
        if kind == "http" and path in self._engine_paths:
            await self._http(scope, receive, send)
        elif kind == "websocket" and (path in self._engine_paths or path in self._endpoints):
            await self._websocket(scope, receive, send)
        elif self._fallback is not None:
            await self._fallback(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan_noop(receive, send)
        elif kind == "http":
            await _send_response(send, 404, _TEXT, b"not found")
        else:
            await send({"type": "websocket.close", "code": 1008})

    @staticmethod
    def _request(scope: Scope, body: bytes) -> HttpRequest:
        client = scope.get("client")
        return HttpRequest(
            method=scope.get("method", "GET"),
            path=scope["path"],
            query_string=bytes(scope.get("query_string", b"")).decode("latin-1"),
            headers=[(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", [])],
            client=(client[0], client[1]) if client else None,
            scheme="https" if scope.get("scheme") in ("https", "wss") else "http",
            body=body,
        )

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._engine.settings.max_payload_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        responder = _AsgiResponder()
        if size > limit:
            self._engine.refuse_oversized(self._request(scope, b""), responder)
        else:
            self._engine.handle_http(self._request(scope, b"".join(chunks)), responder)
        if not responder.answered:
            waiter = asyncio.ensure_future(responder.done.wait())
            watcher = asyncio.ensure_future(receive())
            await asyncio.wait({waiter, watcher}, return_when=asyncio.FIRST_COMPLETED)
            watcher.cancel()
            if not responder.done.is_set():
                waiter.cancel()
                responder.aborted()
                return
        if responder.answer is not None:
            await _send_response(send, *responder.answer)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        request = self._request(scope, b"")
        accepted: list[_AsgiWebSocket] = []
        decided = asyncio.Event()

        def accept(max_size: int) -> _AsgiWebSocket:
            ws = _AsgiWebSocket(send, max_size)
            accepted.append(ws)
            decided.set()
            return ws

        def reject(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
            del status, headers, body
            decided.set()

        upgrader = Upgrader(accept=accept, reject=reject)
        if request.path in self._engine_paths:
            self._engine.handle_upgrade(request, upgrader)
        else:
            self._endpoints[request.path](request, upgrader)
        # A new session's handshake runs as its own task (allow_request may await).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(decided.wait(), _DECISION_TIMEOUT_S)
        if not accepted:
            await send({"type": "websocket.close", "code": 1008})
            return
        ws = accepted[0]
        writer = asyncio.ensure_future(ws.write_loop())
        try:
            await ws.read_loop(receive)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 1.0)
            writer.cancel()


async def _send_response(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan_noop(receive: Receive, send: Send) -> None:
    while True:
        message: Any = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
