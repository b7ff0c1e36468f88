"""WebSocket transport (Engine.IO v4 spec: "WebSocket"), over the ``websockets`` library.

Each Engine.IO packet is one frame: text packets as text frames, binary messages as
binary frames. The library runs the WebSocket protocol itself (framing, masking, the
closing handshake); WebSocket-level pings are off, since Engine.IO has its own heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from baatcheet.client._tasks import spawn
from baatcheet.client.errors import ConnectionFailedError
from baatcheet.client.reasons import DisconnectReason
from baatcheet.client.transport import (
    PacketHandler,
    TransportCloseHandler,
    TransportTarget,
    ignore_close,
    ignore_packet,
)
from baatcheet.errors import ProtocolError
from baatcheet.proto.engineio import EnginePacket, decode_ws, encode_ws

__all__ = ["WebSocketTransport", "websocket_url"]

_CLOSE_TIMEOUT_S: Final = 2.0
"""How long closing waits for the server's closing frame."""


def websocket_url(target: TransportTarget, sid: str | None) -> str:
    """The ``ws://``/``wss://`` URL of ``target`` for a new session or an upgrade."""
    parts = urlsplit(target.url)
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    query = urlencode(target.query_for("websocket", sid))
    return urlunsplit((scheme, parts.netloc, parts.path, query, ""))


class WebSocketTransport:
    """Engine.IO over one WebSocket. See :mod:`baatcheet.client.transport`."""

    name = "websocket"

    def __init__(self, target: TransportTarget) -> None:
        self._target = target
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self.on_packet: PacketHandler = ignore_packet
        self.on_close: TransportCloseHandler = ignore_close

    async def open(self, sid: str | None) -> None:
        """Open the WebSocket; packets flow to ``on_packet`` from now on.

        Raises:
            ConnectionFailedError: The server is unreachable or refused the upgrade.
        """
        url = websocket_url(self._target, sid)
        options: dict[str, Any] = {}
        if self._target.ssl is not None and url.startswith("wss:"):
            options["ssl"] = self._target.ssl
        try:
            self._ws = await connect(
                url,
                additional_headers=dict(self._target.headers),
                open_timeout=None,  # the Engine.IO connection bounds the whole handshake
                ping_interval=None,
                close_timeout=_CLOSE_TIMEOUT_S,
                max_size=None,  # as the JS client: the server's maxPayload binds only us
                **options,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode(errors="replace")[:200] if exc.response.body else ""
            raise ConnectionFailedError(
                f"the server refused the WebSocket at {url}: {status} {body}".rstrip(),
                status=status,
            ) from None
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ConnectionFailedError(f"cannot open a WebSocket to {url}: {exc!r}") from None
        self._reader = asyncio.create_task(self._read(self._ws))

    async def send(self, packets: Sequence[EnginePacket]) -> None:
        """Send each packet as one frame."""
        ws = self._ws
        if ws is None or self._closed:
            return
        try:
            for packet in packets:
                await ws.send(encode_ws(packet))
        except ConnectionClosed:
            self._fail(DisconnectReason.TRANSPORT_CLOSE, "websocket connection closed")
        except OSError as exc:
            self._fail(DisconnectReason.TRANSPORT_ERROR, f"websocket error: {exc!r}")

    async def pause(self) -> None:
        """Nothing to do: a WebSocket is never upgraded."""

    async def close(self) -> None:
        """Run the closing handshake (bounded) and stop reading."""
        self._closed = True
        self.on_packet = ignore_packet
        self.on_close = ignore_close
        ws = self._ws
        if ws is not None:
            await ws.close()
        reader = self._reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            await asyncio.wait({reader})

    async def _read(self, ws: ClientConnection) -> None:
        reason = DisconnectReason.TRANSPORT_CLOSE
        description = "websocket connection closed"
        try:
            async for frame in ws:
                try:
                    packet = decode_ws(frame)
                except ProtocolError as exc:
                    reason, description = DisconnectReason.PARSE_ERROR, str(exc)
                    break
                self.on_packet(packet)
                if self._closed:
                    return
        except ConnectionClosed as exc:
            description = f"websocket connection closed: {exc}"
        except OSError as exc:
            reason, description = DisconnectReason.TRANSPORT_ERROR, f"websocket error: {exc!r}"
        self._fail(reason, description)

    def _fail(self, reason: DisconnectReason, description: str) -> None:
        if self._closed:
            return
        self._closed = True
        handler = self.on_close
        self.on_packet = ignore_packet
        self.on_close = ignore_close
        ws = self._ws
        if ws is not None:
            spawn(_quietly_close(ws))
        handler(reason, description)


async def _quietly_close(ws: ClientConnection) -> None:
    # The connection has already failed; whatever its close runs into changes nothing.
    with contextlib.suppress(Exception):
        await ws.close()
