"""One Engine.IO connection seen from Socket.IO: packet decoding and namespace routing.

This is also where one connection is kept from taking more than its share:

* **Backpressure.** Each ``async`` handler (and each namespace CONNECT) runs as a task.
  When a connection has ``inbound_max_pending_handlers`` of them running, the client
  stops reading from its transport; messages already read wait in a backlog (at most
  one read's worth) and are handled as the tasks finish. Nothing is dropped: a client
  that pipelines faster than its handlers finish is simply slowed to their pace.
* **Rate limit.** A token bucket (``packet_rate_per_s``, ``packet_burst``) counts the
  CONNECT and EVENT packets a client sends. Over it, an event with an ack id is answered
  with an error ack ``rate_limited`` (a CONNECT with ``connect_error``), others are
  dropped; after ``packet_refusals_before_disconnect`` refusals in a row the connection
  is closed with reason ``rate limited``. ACKs (answers to the server) and DISCONNECTs
  are never limited.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from baatcheet.engine.frames import prepare_message
from baatcheet.engine.session import CloseReason, EngineSession
from baatcheet.errors import ConnectRejected, ProtocolError
from baatcheet.proto.socketio import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    Decoder,
    Packet,
    encode,
)
from baatcheet.sio._tasks import spawn
from baatcheet.sio.error_ack import AckErrorCode
from baatcheet.sio.handshake import Handshake
from baatcheet.sio.namespace import Namespace
from baatcheet.sio.observer import ServerObserver
from baatcheet.sio.socket import Socket

__all__ = ["Client", "ClientLimits", "NamespaceLookup"]

log = logging.getLogger(__name__)

NamespaceLookup = Callable[[str, dict[str, Any]], Namespace | None]
"""Finds (or creates, for dynamic namespaces) the namespace a client asks for."""


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """What one connection may do; one instance is shared by every client of a server."""

    connect_timeout: float
    """Seconds a connection may stay without any namespace."""
    max_pending_handlers: int
    """Handler tasks in flight at which the client stops reading from its transport."""
    packet_rate: float
    """Sustained CONNECT/EVENT packets per second."""
    packet_burst: float
    """Packets allowed at once above the sustained rate (the bucket's size)."""
    refusals_before_disconnect: int
    """Rate-limit refusals in a row after which the connection is closed."""


class Client:
    """Routes one connection's packets to its sockets (one per namespace).

    The client alone writes its map of sockets: it adds a socket once the namespace
    admitted it, and a socket that leaves (from either side, or with the connection)
    asks it to :meth:`release` the slot.
    """

    __slots__ = (
        "_backlog",
        "_connect_timer",
        "_connecting",
        "_decoder",
        "_limits",
        "_lookup",
        "_observer",
        "_pending",
        "_refusals",
        "_sockets",
        "_stamp",
        "_stopped",
        "_tokens",
        "closed",
        "session",
    )

    def __init__(
        self,
        session: EngineSession,
        lookup: NamespaceLookup,
        limits: ClientLimits,
        observer: ServerObserver,
    ) -> None:
        self.session = session
        self._sockets: dict[str, Socket] = {}
        self.closed = False
        self._lookup = lookup
        self._limits = limits
        self._observer = observer
        self._decoder = Decoder()
        loop = asyncio.get_running_loop()
        self._connect_timer: asyncio.TimerHandle | None = loop.call_later(
            limits.connect_timeout, self._on_connect_timeout
        )
        self._connecting: set[str] | None = None
        """Namespaces whose CONNECT is still in the middleware (None: none, saves a set)."""
        self._pending = 0
        self._backlog: list[str | bytes] | None = None
        """Messages read while paused, in order; None while reading normally."""
        self._tokens = limits.packet_burst
        self._stamp = loop.time()
        self._refusals = 0
        self._stopped: asyncio.Future[None] | None = None
        """Set by :meth:`stop_reading` (shutdown); resolved once no handler is running."""

    @property
    def sockets(self) -> Mapping[str, Socket]:
        """This connection's sockets by namespace name: a read-only view (the client owns it).

        Made on each access rather than kept, so an idle connection does not pay for it.
        """
        return MappingProxyType(self._sockets)

    # -- SessionHandler ------------------------------------------------------------------

    def on_message(self, data: str | bytes) -> None:
        """Decode and route one Engine.IO message (or keep it while reading is paused)."""
        self._observer.packet_in(len(data))
        backlog = self._backlog
        if backlog is not None:
            backlog.append(data)
            return
        self._handle(data)

    def _handle(self, data: str | bytes) -> None:
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
        self._backlog = None
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        for socket in list(self._sockets.values()):
            socket.on_close(str(reason))

    # -- routing -------------------------------------------------------------------------

    def _route(self, packet: Packet) -> None:
        kind = packet.type
        if kind is CONNECT:
            name = packet.namespace
            if not self._take_token():
                self._connect_error(name, "rate limited", {"code": AckErrorCode.RATE_LIMITED.value})
                return
            # Refused before any await: two CONNECTs back to back must not both pass the
            # middleware and leave the first socket orphaned in its rooms.
            if name in self._sockets or (self._connecting is not None and name in self._connecting):
                self._connect_error(name, "already connected to this namespace", None)
                return
            auth = packet.data if isinstance(packet.data, dict) else {}
            namespace = self._lookup(name, auth)
            if namespace is not None and namespace.admits_at_once:
                self._connect_at_once(namespace, name, auth)
                return
            if self._connecting is None:
                self._connecting = set()
            self._connecting.add(name)
            self.run_task(self._connect(name, auth, namespace))
            return
        socket = self._sockets.get(packet.namespace)
        if socket is None:
            log.debug("%s: packet for unconnected namespace %s", self.session.sid, packet.namespace)
            return
        if kind is EVENT or kind is BINARY_EVENT:
            data = packet.data
            if not self._take_token():
                if packet.id is not None:
                    refusal = "too many packets; slow down"
                    socket.refuse(packet.id, AckErrorCode.RATE_LIMITED, refusal)
                return
            socket.on_event(data[0], data[1:], packet.id)
        elif kind is ACK or kind is BINARY_ACK:
            if packet.id is not None:
                socket.on_ack(packet.id, packet.data)
        elif kind is DISCONNECT:
            socket.on_close("client namespace disconnect")
        else:
            log.info("closing %s: client sent %s", self.session.sid, kind.name)
            self.session.close(CloseReason.PARSE_ERROR)

    async def _connect(self, name: str, auth: dict[str, Any], namespace: Namespace | None) -> None:
        try:
            await self._admit(name, auth, namespace)
        finally:
            if self._connecting is not None:
                self._connecting.discard(name)
                if not self._connecting:
                    self._connecting = None

    async def _admit(self, name: str, auth: dict[str, Any], namespace: Namespace | None) -> None:
        if namespace is None:
            self._observer.namespace_refused("(unknown)")
            self._connect_error(name, "Invalid namespace", None)
            return
        await namespace.ensure_ready()
        try:
            socket = await namespace.connect(self, self._handshake(auth))
        except ConnectRejected as rejection:
            self._observer.namespace_refused(namespace.label)
            self._connect_error(name, rejection.message, rejection.data)
            return
        except Exception:
            log.exception("middleware of %s failed", name)
            self._observer.namespace_refused(namespace.label)
            self._connect_error(name, "server error", None)
            return
        if self.closed:
            socket.on_close(str(CloseReason.TRANSPORT_CLOSE))
            return
        self._connected(name, socket)
        await namespace.run_connection_handlers(socket)

    def _connect_at_once(self, namespace: Namespace, name: str, auth: dict[str, Any]) -> None:
        """:meth:`_admit` for a namespace with nothing to wait for: no task, no await."""
        socket = namespace.connect_at_once(self, self._handshake(auth))
        self._connected(name, socket)
        rest = namespace.start_connection_handlers(socket)
        if rest is not None:
            self.run_task(rest)

    def _handshake(self, auth: dict[str, Any]) -> Handshake:
        return Handshake.from_request(self.session.request, auth, int(time.time() * 1000))

    def _connected(self, name: str, socket: Socket) -> None:
        """The socket is admitted: answer the CONNECT."""
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        self._sockets[name] = socket
        self.send_packet(Packet(CONNECT, name, {"sid": socket.id}))

    def _connect_error(self, name: str, message: str, data: Any) -> None:
        payload: dict[str, Any] = {"message": message}
        if data is not None:
            payload["data"] = data
        self.send_packet(Packet(CONNECT_ERROR, name, payload))

    # -- fair share: backpressure and rate limit ------------------------------------------

    def run_task(self, awaitable: Awaitable[Any]) -> None:
        """Run a handler of this connection as a task, counted for backpressure."""
        self._pending += 1
        spawn(awaitable).add_done_callback(self._task_done)
        if self._pending >= self._limits.max_pending_handlers and self._backlog is None:
            self._backlog = []
            self.session.pause_reading()

    def _task_done(self, _task: object) -> None:
        self._pending -= 1
        if self._backlog is not None and self._pending <= self._limits.max_pending_handlers // 2:
            self._drain_backlog()
        stopped = self._stopped
        if stopped is not None and self._pending == 0 and not stopped.done():
            stopped.set_result(None)

    def _drain_backlog(self) -> None:
        """Handle what was read while paused; resume reading once it is all handled."""
        backlog = self._backlog
        assert backlog is not None
        self._backlog = None
        for index, data in enumerate(backlog):
            if self.closed:
                return
            self._handle(data)
            if self._backlog is not None:
                # Paused again: the rest waits, ahead of anything read since.
                self._backlog[:0] = backlog[index + 1 :]
                return
        if not self.closed and self._stopped is None:
            self.session.resume_reading()

    def stop_reading(self) -> asyncio.Future[None]:
        """Read nothing more from this connection; done once its running handlers finish.

        For a graceful shutdown: events already read (those waiting for backpressure to
        ease included) are still handled, so their acks go out before the connection is
        closed; anything the client sends later is never read, and its own ack timeout
        or the disconnect tells it to send again.
        """
        if self._stopped is None:
            self._stopped = asyncio.get_running_loop().create_future()
            self.session.pause_reading()
            if self._pending == 0:
                self._stopped.set_result(None)
        return self._stopped

    def _take_token(self) -> bool:
        """Spend one token of the bucket; False (and maybe a disconnect) when it is empty."""
        limits = self._limits
        now = asyncio.get_running_loop().time()
        tokens = min(limits.packet_burst, self._tokens + (now - self._stamp) * limits.packet_rate)
        self._stamp = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            self._refusals = 0
            return True
        self._tokens = tokens
        self._refusals += 1
        if self._refusals == limits.refusals_before_disconnect:
            log.warning(
                "closing %s from %s: over the packet rate limit",
                self.session.sid,
                self.session.request.client,
            )
            self._close_rate_limited()
        return False

    def _close_rate_limited(self) -> None:
        """Leave every namespace (so the official client does not reconnect), then close."""
        if self.closed:
            return
        for socket in list(self._sockets.values()):
            self.send_packet(Packet(DISCONNECT, socket.nsp.name))
            socket.on_close(str(CloseReason.RATE_LIMITED))
        self.session.close(CloseReason.RATE_LIMITED)

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self._sockets and not self.closed:
            log.info("closing %s: no namespace connection in time", self.session.sid)
            self.session.close(CloseReason.FORCED_CLOSE)

    def release(self, socket: Socket) -> None:
        """Free ``socket``'s namespace slot, so the client may connect to it again.

        Called by the socket as it leaves; a socket that no longer holds the slot (it
        was never admitted) changes nothing.
        """
        if self._sockets.get(socket.nsp.name) is socket:
            del self._sockets[socket.nsp.name]

    # -- sending -------------------------------------------------------------------------

    def send_packet(self, packet: Packet) -> None:
        """Encode and send one packet to this connection only."""
        if not self.closed:
            message = prepare_message(encode(packet))
            self.session.send_prepared(message)
            self._observer.packet_out(len(message.ws))

    def close_connection(self) -> None:
        """End the whole connection (``socket.disconnect(close=True)``).

        As in Node, every socket first leaves its namespace with a DISCONNECT packet,
        so the client sees ``io server disconnect`` and does not reconnect.
        """
        for socket in list(self._sockets.values()):
            socket.disconnect()
        self.session.close(CloseReason.FORCED_CLOSE)
