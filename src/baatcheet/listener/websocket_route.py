"""Plain WebSocket endpoints written as one coroutine per connection.

``server.websocket("/echo")`` (or :meth:`Listener.mount_websocket` with a
:class:`WebSocketRoute`) runs ``async def handler(ws: PlainWebSocket) -> None`` for each
accepted connection, over the same frame machinery as the Engine.IO transport
(:mod:`baatcheet.engine.websocket`), so the same limits apply: ``max_payload_bytes`` per
message (a larger one closes with 1009), the origin policy of ``cors_origins`` (a
foreign origin is answered 403), and pings answered by the frame layer.

The handler reads with ``await ws.receive()`` or ``async for message in ws``, and writes
with :meth:`PlainWebSocket.send`. When it returns the connection is closed normally
(1000); when it raises, the error is logged and the peer gets 1011, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from websockets.frames import CloseCode

from baatcheet.engine.cors import OriginPolicy
from baatcheet.engine.http import HttpRequest
from baatcheet.engine.server import Upgrader
from baatcheet.engine.websocket import WebSocketLike
from baatcheet.errors import SocketClosedError
from baatcheet.settings import Settings

__all__ = ["PlainWebSocket", "PlainWebSocketHandler", "WebSocketRoute"]

log = logging.getLogger(__name__)

PlainWebSocketHandler = Callable[["PlainWebSocket"], Awaitable[None]]
"""``async def handler(ws: PlainWebSocket) -> None``, run once per accepted connection."""

_READ_AHEAD: Final = 16
"""Messages held for a handler that does not read; past that the peer is not read from,
so TCP flow control slows it down instead of the server buffering without bound."""


class PlainWebSocket:
    """One accepted plain WebSocket, as its handler sees it.

    Messages arrive as ``str`` (text frames) or ``bytes`` (binary frames), in order.
    """

    def __init__(self, request: HttpRequest, connection: WebSocketLike) -> None:
        self.request = request
        """The upgrade request: ``path``, ``query``, ``header(b"name")``, ``client``."""
        self._connection = connection
        self._inbox: deque[str | bytes] = deque()
        self._arrived = asyncio.Event()
        self._paused = False
        self.close_code: int | None = None
        """How the connection ended (None while open): the peer's code, or the one sent."""
        self.close_reason = ""
        connection.on_message = self._on_message
        connection.on_close = self._on_close

    @property
    def closed(self) -> bool:
        """True once either side closed (messages already received can still be read)."""
        return self.close_code is not None

    async def receive(self) -> str | bytes:
        """The next message.

        Raises:
            SocketClosedError: The connection is closed and every message that arrived
                before the close has been read.
        """
        while not self._inbox:
            if self.closed:
                raise SocketClosedError(
                    f"the WebSocket is closed ({self.close_code} {self.close_reason})".strip()
                )
            self._arrived.clear()
            await self._arrived.wait()
        message = self._inbox.popleft()
        if self._paused and len(self._inbox) < _READ_AHEAD // 2:
            self._paused = False
            self._connection.resume_reading()
        return message

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str | bytes]:
        """Every message until the connection closes (then the loop just ends)."""
        while True:
            try:
                yield await self.receive()
            except SocketClosedError:
                return

    def send(self, message: str | bytes) -> None:
        """Queue ``message`` as one text (``str``) or binary (``bytes``) frame.

        It returns at once: the frame goes into the transport's write buffer, which the
        event loop empties. Nothing is sent once the connection is closed.

        Raises:
            TypeError: ``message`` is neither ``str`` nor ``bytes``.
        """
        if isinstance(message, str):
            self._connection.send_text(message)
        elif isinstance(message, bytes | bytearray | memoryview):
            self._connection.send_binary(bytes(message))
        else:
            raise TypeError(f"send() takes str or bytes, not {type(message).__name__}")

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake with ``code`` and ``reason`` (at most 120 characters)."""
        self._connection.close(code, reason)

    def buffered_bytes(self) -> int:
        """Bytes sent but not yet handed to the network: a slow reader's backlog."""
        return self._connection.buffered_bytes()

    def _on_message(self, message: str | bytes) -> None:
        self._inbox.append(message)
        self._arrived.set()
        if not self._paused and len(self._inbox) >= _READ_AHEAD:
            self._paused = True
            self._connection.pause_reading()

    def _on_close(self, code: int, reason: str) -> None:
        self.close_code = code
        self.close_reason = reason
        self._arrived.set()


class WebSocketRoute:
    """Accepts plain WebSocket upgrades on one path and runs ``handler`` for each.

    An :data:`~baatcheet.listener.UpgradeHandler`: mount it with
    ``listener.mount_websocket(path, route)``.

    Args:
        handler: The coroutine function run per connection.
        origins: Which ``Origin`` headers may connect (others get 403).
        max_message_bytes: Largest message accepted; a larger one closes with 1009.
    """

    def __init__(
        self, handler: PlainWebSocketHandler, origins: OriginPolicy, max_message_bytes: int
    ) -> None:
        self.handler = handler
        self._origins = origins
        self._max_message_bytes = max_message_bytes
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0
        """Open connections right now."""

    @classmethod
    def from_settings(cls, handler: PlainWebSocketHandler, settings: Settings) -> WebSocketRoute:
        """A route for ``handler`` under the origin policy and message limit of ``settings``."""
        return cls(handler, OriginPolicy.from_settings(settings), settings.max_payload_bytes)

    def __call__(self, request: HttpRequest, upgrader: Upgrader) -> None:
        if not self._origins.allows(request.header(b"origin"), request):
            upgrader.reject(403, [(b"content-type", b"text/plain")], b"origin or host not allowed")
            return
        connection = upgrader.accept(self._max_message_bytes)
        if connection is None:
            return
        ws = PlainWebSocket(request, connection)
        self.connections += 1
        task = asyncio.ensure_future(self._run(ws))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, ws: PlainWebSocket) -> None:
        try:
            await self.handler(ws)
        except SocketClosedError:
            # The handler read past the peer's close: the usual way for it to end.
            pass
        except Exception:
            log.exception("WebSocket handler %s failed", ws.request.path)
            ws.close(CloseCode.INTERNAL_ERROR, "internal error")
        else:
            ws.close()
        finally:
            self.connections -= 1
