"""An in-memory Engine.IO connection: a client transport wired straight into a server.

Two halves of one fake WebSocket:

* :class:`MemoryWebSocket` is the server's end: a ``WebSocketLike`` that the server's own
  ``EngineSession`` attaches exactly as it attaches a real WebSocket, after the server's
  own handshake (``EngineServer.handle_upgrade``: origin check, ``allow_request``, OPEN
  packet, heartbeat). Everything above it — Socket.IO decoding, middleware, namespaces,
  rooms, acks, rate limits — is the real code.
* :class:`MemoryTransport` is the client's end: a ``baatcheet.client`` transport, so the
  real client (Engine.IO handshake, heartbeat, acks, reconnection) drives it.

No socket, no HTTP parsing, no framing: frames cross as ``str`` and ``bytes``. Frames to
the client are delivered with ``loop.call_soon``, so neither side ever runs inside the
other's call stack, as over a network; frames to the server are handed over by the
client's writer task, as a socket read would.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode, urlsplit

from baatcheet.client.errors import ConnectionFailedError
from baatcheet.client.reasons import DisconnectReason
from baatcheet.client.transport import (
    PacketHandler,
    TransportCloseHandler,
    TransportTarget,
    ignore_close,
    ignore_packet,
)
from baatcheet.engine.frames import PreparedMessage
from baatcheet.engine.http import HttpRequest
from baatcheet.engine.server import EngineServer, Upgrader
from baatcheet.engine.websocket import CloseHandler, MessageHandler
from baatcheet.errors import ProtocolError
from baatcheet.proto.engineio import EnginePacket, decode_ws, encode_ws

__all__ = ["MemoryTransport", "MemoryWebSocket"]

log = logging.getLogger(__name__)

_CLOSE_NORMAL: Final = 1000
_CLOSE_TOO_BIG: Final = 1009
_CLOSE_ABNORMAL: Final = 1006


def _ignore_message(data: str | bytes) -> None:
    del data


def _ignore_close(code: int, reason: str) -> None:
    del code, reason


class MemoryWebSocket:
    """The server's end of an in-memory connection (a ``WebSocketLike``)."""

    def __init__(self, client: MemoryTransport, max_message_bytes: int) -> None:
        self._client = client
        self._max_message_bytes = max_message_bytes
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._paused = False
        self._inbox: deque[str | bytes] = deque()
        self.on_message: MessageHandler = _ignore_message
        self.on_close: CloseHandler = _ignore_close

    # -- server → client -----------------------------------------------------------------

    def send_prepared(self, message: PreparedMessage) -> None:
        """Send each part of a prepared message: text as ``4…``, attachments as bytes."""
        for part in message.parts:
            self._to_client("4" + part if isinstance(part, str) else bytes(part))

    def send_text(self, text: str) -> None:
        """Send one text frame."""
        self._to_client(text)

    def send_binary(self, data: bytes) -> None:
        """Send one binary frame."""
        self._to_client(data)

    def _to_client(self, frame: str | bytes) -> None:
        if not self._closed:
            self._loop.call_soon(self._client.receive_frame, frame)

    def buffered_bytes(self) -> int:
        """Nothing is ever buffered: the client takes every frame."""
        return 0

    def close(self, code: int = _CLOSE_NORMAL, reason: str = "") -> None:
        """The server closes: both ends hear of it once (the client after queued frames)."""
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon(self._client.server_closed, code, reason)
        self._notify(code, reason)

    def abort(self, reason: str) -> None:
        """Drop the connection (the slow-consumer policy's way out)."""
        self.close(_CLOSE_ABNORMAL, reason)

    def pause_reading(self) -> None:
        """Hold the client's frames until :meth:`resume_reading` (server backpressure)."""
        self._paused = True

    def resume_reading(self) -> None:
        """Deliver the held frames on the next loop turn, as a transport resumes reading."""
        self._paused = False
        if self._inbox:
            self._loop.call_soon(self._drain_inbox)

    def _drain_inbox(self) -> None:
        inbox = self._inbox
        while inbox and not self._paused and not self._closed:
            self.on_message(inbox.popleft())

    # -- client → server -----------------------------------------------------------------

    def receive(self, frame: str | bytes) -> None:
        """A frame from the client; an oversized one closes as a real WebSocket would."""
        if self._closed:
            return
        if self._too_big(frame):
            self._closed = True
            self._loop.call_soon(self._client.server_closed, _CLOSE_TOO_BIG, "message too big")
            self._notify(_CLOSE_TOO_BIG, "message too big")
            return
        if self._paused or self._inbox:  # held frames go first
            self._inbox.append(frame)
        else:
            self.on_message(frame)

    def client_closed(self) -> None:
        """The client closed its end (a normal closure)."""
        if not self._closed:
            self._closed = True
            self._notify(_CLOSE_NORMAL, "")

    def _too_big(self, frame: str | bytes) -> bool:
        limit = self._max_message_bytes
        if isinstance(frame, bytes):
            return len(frame) > limit
        # A character is at most 4 UTF-8 bytes: most frames need no encoding to be measured.
        return len(frame) * 4 > limit and len(frame.encode()) > limit

    def _notify(self, code: int, reason: str) -> None:
        handler = self.on_close
        self.on_close = _ignore_close
        self.on_message = _ignore_message
        self._inbox.clear()
        handler(code, reason)


class MemoryTransport:
    """The client's end: a ``baatcheet.client`` transport into ``engine``, in this process.

    It calls itself ``websocket``: the server attaches it as a WebSocket, and the client
    then has no reason to try an upgrade.

    Args:
        engine: The server's Engine.IO server (``Server.engine``).
        target: The client's target; its query and headers reach the handshake request.
        address: The client address the server sees (``socket.handshake.address``).
    """

    name = "websocket"

    def __init__(
        self,
        engine: EngineServer,
        target: TransportTarget,
        address: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        self._engine = engine
        self._target = target
        self._address = address
        self._ws: MemoryWebSocket | None = None
        self._closed = False
        self.on_packet: PacketHandler = ignore_packet
        self.on_close: TransportCloseHandler = ignore_close

    async def open(self, sid: str | None) -> None:
        """Run the server's WebSocket handshake on a fake upgrade request.

        Raises:
            ConnectionFailedError: The server refused (origin, ``allow_request``, draining).
        """
        if sid is not None:
            raise ValueError("the in-memory transport opens new sessions only")
        target = self._target
        request = HttpRequest(
            method="GET",
            path=urlsplit(target.url).path,
            query_string=urlencode(target.query_for(self.name, None)),
            headers=[
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in target.headers.items()
            ],
            client=self._address,
        )
        decided: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def accept(max_message_bytes: int) -> MemoryWebSocket:
            ws = MemoryWebSocket(self, max_message_bytes)
            self._ws = ws
            if not decided.done():
                decided.set_result(None)
            return ws

        def reject(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
            del headers
            if not decided.done():
                text = body.decode(errors="replace")
                message = f"the server refused the connection: {status} {text}"
                decided.set_exception(ConnectionFailedError(message, status=status))

        # The handshake may await allow_request, so the answer can come later.
        self._engine.handle_upgrade(request, Upgrader(accept=accept, reject=reject))
        await decided

    async def send(self, packets: Sequence[EnginePacket]) -> None:
        """Hand each packet's frame to the server."""
        ws = self._ws
        if ws is None or self._closed:
            return
        for packet in packets:
            try:
                ws.receive(encode_ws(packet))
            except Exception:
                # Over a network the server's failure would never reach the client; log
                # it loudly (pytest shows it with the failing test) and carry on.
                log.exception("the server failed while handling a frame from the test client")

    async def pause(self) -> None:
        """Nothing to do: this transport is never upgraded."""

    async def close(self) -> None:
        """Close the client's end; the server sees a normal WebSocket closure."""
        self._closed = True
        self.on_packet = ignore_packet
        self.on_close = ignore_close
        ws = self._ws
        if ws is not None:
            ws.client_closed()

    def receive_frame(self, frame: str | bytes) -> None:
        """A frame from the server (scheduled by :class:`MemoryWebSocket`)."""
        if self._closed:
            return
        try:
            packet = decode_ws(frame)
        except ProtocolError as exc:
            self._end(DisconnectReason.PARSE_ERROR, str(exc))
            return
        self.on_packet(packet)

    def server_closed(self, code: int, reason: str) -> None:
        """The server closed its end (scheduled after the frames it sent before)."""
        self._end(DisconnectReason.TRANSPORT_CLOSE, f"closed by the server: {code} {reason}")

    def _end(self, reason: DisconnectReason, description: str) -> None:
        if self._closed:
            return
        self._closed = True
        handler = self.on_close
        self.on_packet = ignore_packet
        self.on_close = ignore_close
        handler(reason, description.strip())
