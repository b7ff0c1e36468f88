"""One Engine.IO connection seen from Socket.IO: packet decoding and namespace routing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from baatcheet.engine.frames import prepare_message
from baatcheet.engine.session import CloseReason, EngineSession
from baatcheet.errors import ConnectRejected, ProtocolError
from baatcheet.proto.socketio import Decoder, Packet, PacketType, encode
from baatcheet.sio._tasks import spawn
from baatcheet.sio.handshake import Handshake
from baatcheet.sio.namespace import Namespace
from baatcheet.sio.socket import Socket

__all__ = ["Client", "NamespaceLookup"]

log = logging.getLogger(__name__)

NamespaceLookup = Callable[[str, dict[str, Any]], Namespace | None]
"""Finds (or creates, for dynamic namespaces) the namespace a client asks for."""


class Client:
    """Routes one connection's packets to its sockets (one per namespace)."""

    __slots__ = (
        "_connect_timer",
        "_decoder",
        "_lookup",
        "closed",
        "session",
        "sockets",
    )

    def __init__(
        self, session: EngineSession, lookup: NamespaceLookup, connect_timeout: float
    ) -> None:
        self.session = session
        self.sockets: dict[str, Socket] = {}
        self.closed = False
        self._lookup = lookup
        self._decoder = Decoder()
        self._connect_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            connect_timeout, self._on_connect_timeout
        )

    # -- SessionHandler ------------------------------------------------------------------

    def on_message(self, data: str | bytes) -> None:
        """Decode and route one Engine.IO message."""
        try:
            packet = self._decoder.feed(data)
        except ProtocolError as exc:
            log.info("closing %s: %s", self.session.sid, exc)
            self.session.close(CloseReason.PARSE_ERROR)
            return
        if packet is not None:
            self._route(packet)

    def on_close(self, reason: CloseReason) -> None:
        """The connection is gone: every socket on it disconnects with ``reason``."""
        self.closed = True
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        for socket in list(self.sockets.values()):
            socket.on_close(str(reason))
        self.sockets.clear()

    # -- routing -------------------------------------------------------------------------

    def _route(self, packet: Packet) -> None:
        kind = packet.type
        if kind is PacketType.CONNECT:
            spawn(self._connect(packet))
            return
        socket = self.sockets.get(packet.namespace)
        if socket is None:
            log.debug("%s: packet for unconnected namespace %s", self.session.sid, packet.namespace)
            return
        if kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT:
            data = packet.data
            socket.on_event(data[0], data[1:], packet.id)
        elif kind is PacketType.ACK or kind is PacketType.BINARY_ACK:
            if packet.id is not None:
                socket.on_ack(packet.id, packet.data)
        elif kind is PacketType.DISCONNECT:
            self.sockets.pop(packet.namespace, None)
            socket.on_close("client namespace disconnect")
        else:
            log.info("closing %s: client sent %s", self.session.sid, kind.name)
            self.session.close(CloseReason.PARSE_ERROR)

    async def _connect(self, packet: Packet) -> None:
        name = packet.namespace
        auth = packet.data if isinstance(packet.data, dict) else {}
        if name in self.sockets:
            self._connect_error(name, "already connected to this namespace", None)
            return
        namespace = self._lookup(name, auth)
        if namespace is None:
            self._connect_error(name, "Invalid namespace", None)
            return
        issued = int(time.time() * 1000)
        handshake = Handshake.from_request(self.session.request, auth, issued)
        try:
            socket = await namespace.connect(self, handshake)
        except ConnectRejected as rejection:
            self._connect_error(name, rejection.message, rejection.data)
            return
        except Exception:
            log.exception("middleware of %s failed", name)
            self._connect_error(name, "server error", None)
            return
        if self.closed:
            socket.on_close(str(CloseReason.TRANSPORT_CLOSE))
            return
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        self.sockets[name] = socket
        self.send_packet(Packet(PacketType.CONNECT, name, {"sid": socket.id}))
        await namespace.run_connection_handlers(socket)

    def _connect_error(self, name: str, message: str, data: Any) -> None:
        payload: dict[str, Any] = {"message": message}
        if data is not None:
            payload["data"] = data
        self.send_packet(Packet(PacketType.CONNECT_ERROR, name, payload))

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self.sockets and not self.closed:
            log.info("closing %s: no namespace connection in time", self.session.sid)
            self.session.close(CloseReason.FORCED_CLOSE)

    # -- sending -------------------------------------------------------------------------

    def send_packet(self, packet: Packet) -> None:
        """Encode and send one packet to this connection only."""
        if not self.closed:
            self.session.send_prepared(prepare_message(encode(packet)))

    def close_connection(self) -> None:
        """End the whole connection (``socket.disconnect(close=True)``).

        As in Node, every socket first leaves its namespace with a DISCONNECT packet,
        so the client sees ``io server disconnect`` and does not reconnect.
        """
        for socket in list(self.sockets.values()):
            socket.disconnect()
        self.session.close(CloseReason.FORCED_CLOSE)
