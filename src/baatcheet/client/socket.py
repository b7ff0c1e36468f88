"""One namespace of a client connection: events, acknowledgements, connecting, leaving.

As socket.io-client's ``Socket``: a client holds one socket per namespace, all sharing
its Engine.IO connection. A socket

* connects with a CONNECT packet carrying its ``auth`` (and, after a lost connection, the
  ``pid``/``offset`` of connection state recovery) and learns its id from the answer;
* buffers what it emits while disconnected and sends it, in order, once connected;
* runs handlers in arrival order: synchronous ones inline, ``async`` ones as tasks; a
  handler's return value answers the server's acknowledgement request;
* fails every pending ``emit_with_ack`` with :class:`~baatcheet.errors.SocketClosedError`
  when it disconnects, and with :class:`~baatcheet.errors.AckTimeoutError` after its
  timeout.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, overload

from baatcheet.client._tasks import spawn
from baatcheet.client.errors import ConnectionFailedError
from baatcheet.client.reasons import DisconnectReason
from baatcheet.errors import AckTimeoutError, ConnectRejected, SocketClosedError
from baatcheet.proto.socketio import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
    Packet,
    encode,
)

__all__ = ["Auth", "ClientSocket", "EventHandler", "SocketHost"]

log = logging.getLogger(__name__)

EventHandler = Callable[..., Any]
"""Called with an event's arguments; may be ``async``; its return value is the ack."""
H = TypeVar("H", bound=EventHandler)

Auth = Mapping[str, Any] | Callable[[], Mapping[str, Any] | Awaitable[Mapping[str, Any]]] | None
"""The CONNECT payload, or a function giving it afresh at each (re)connection."""

_V2_SERVER = (
    "the server answered CONNECT without a socket id: a Socket.IO v2 server cannot talk"
    " to a v5 client"
)


class SocketHost(Protocol):
    """What a socket needs from the client that owns the connection."""

    @property
    def is_open(self) -> bool:
        """Whether the Engine.IO connection is open (packets can be sent)."""

    def send_parts(self, parts: Sequence[str | bytes]) -> None:
        """Send one encoded Socket.IO packet (its text, then its attachments)."""

    async def open(self) -> None:
        """Open the connection if needed; CONNECT every active socket once it is open."""

    async def release(self) -> None:
        """A socket stopped being active; close the connection when none is left."""


class ClientSocket:
    """A client's connection to one namespace. Get it from ``client.of(namespace)``.

    Attributes:
        namespace: The namespace, such as ``/`` or ``/chat``.
        auth: Sent with every CONNECT; a function is called anew for each one.
        ack_timeout: Default seconds ``emit_with_ack`` waits (None: no limit).
        id: The socket id the server gave (None while disconnected).
        connected: Whether the server accepted this socket and it has not left since.
        active: Whether this socket wants to be connected (and so is reconnected).
        recovered: Whether the last connection restored the previous session's state
            (the server's connection state recovery: same ``pid``, missed events replayed).
    """

    def __init__(
        self,
        host: SocketHost,
        namespace: str,
        *,
        auth: Auth = None,
        ack_timeout: float | None = 10.0,
    ) -> None:
        self.namespace = namespace
        self.auth = auth
        self.ack_timeout = ack_timeout
        self.id: str | None = None
        self.connected = False
        self.active = False
        self.recovered = False
        self._host = host
        self._handlers: dict[str, list[EventHandler]] = {}
        self._any: list[EventHandler] = []
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._ids = itertools.count()
        self._send_buffer: list[tuple[int | None, list[str | bytes]]] = []
        self._receive_buffer: list[Packet] = []
        self._pid: str | None = None
        self._offset: str | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._connect_sent = False

    def __repr__(self) -> str:
        state = f"id={self.id}" if self.connected else "disconnected"
        return f"<ClientSocket {self.namespace} {state}>"

    # -- listening -------------------------------------------------------------------------

    @overload
    def on(self, event: str, handler: H) -> H: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[H], H]: ...
    def on(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Register ``handler`` for ``event``; also usable as ``@socket.on("event")``.

        Besides the server's events: ``connect`` (no arguments, after each connection),
        ``disconnect`` (the :class:`DisconnectReason`) and ``connect_error`` (a
        :class:`~baatcheet.errors.ConnectRejected` from the server's middleware, or a
        :class:`ConnectionFailedError` for a failed reconnection attempt).
        """

        def register(fn: H) -> H:
            self._handlers.setdefault(event, []).append(fn)
            return fn

        return register(handler) if handler is not None else register

    def on_any(self, handler: H) -> H:
        """Register a catch-all ``handler(event, *args)`` for every event from the server."""
        self._any.append(handler)
        return handler

    def off(self, event: str, handler: EventHandler | None = None) -> None:
        """Remove one handler of ``event``, or all of them."""
        if handler is None:
            self._handlers.pop(event, None)
        elif handler in self._handlers.get(event, ()):
            self._handlers[event].remove(handler)

    # -- emitting --------------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` (``bytes`` anywhere in them travel as attachments).

        While disconnected, the packet waits and goes out once the socket connects.

        Raises:
            ValueError: ``event`` is a reserved name (``connect``, ``disconnect``...).
            TypeError: An argument cannot be encoded (not JSON, not bytes).
        """
        self._emit(event, args, None)

    # ``timeout`` mirrors the JS client's socket.timeout(ms); it bounds only the wait.
    async def emit_with_ack(
        self,
        event: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[Any]:
        """Send ``event`` and return the server's acknowledgement (its arguments, a list).

        Raises:
            AckTimeoutError: No answer within ``timeout`` seconds (default ``ack_timeout``).
            SocketClosedError: The socket disconnected before the server answered.
        """
        ack_id = next(self._ids)
        answer: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = answer
        limit = self.ack_timeout if timeout is None else timeout
        try:
            self._emit(event, args, ack_id)
            async with asyncio.timeout(limit):
                return await answer
        except TimeoutError:
            raise AckTimeoutError(event, limit or 0.0) from None
        finally:
            self._acks.pop(ack_id, None)
            if self._send_buffer:
                self._send_buffer = [item for item in self._send_buffer if item[0] != ack_id]

    def _emit(self, event: str, args: Sequence[Any], ack_id: int | None) -> None:
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name and cannot be emitted")
        parts = encode(Packet(EVENT, self.namespace, [event, *args], ack_id))
        if self.connected and self._host.is_open:
            self._host.send_parts(parts)
        else:
            self._send_buffer.append((ack_id, parts))

    # -- connecting and leaving ------------------------------------------------------------

    async def connect(self, *, timeout: float | None = 20.0) -> None:  # noqa: ASYNC109
        """Connect this namespace (opening the connection if needed) and wait for the answer.

        A failed attempt leaves the socket inactive: call ``connect`` again to retry.

        Raises:
            ConnectRejected: The server's middleware refused (``message``, ``data``).
            ConnectionFailedError: The server could not be reached, or no answer came
                within ``timeout`` seconds.
        """
        if self.connected:
            return
        waiter = self.begin_connect()
        try:
            async with asyncio.timeout(timeout):
                if not self._host.is_open:
                    await self._host.open()
                self.send_connect_once()
                await waiter
        except BaseException as exc:
            self.active = False
            self._waiter = None
            if not waiter.done():
                waiter.cancel()
            await self._host.release()
            if isinstance(exc, TimeoutError):
                raise ConnectionFailedError(
                    f"{self.namespace} was not connected within {timeout:g}s"
                ) from None
            raise

    async def disconnect(self) -> None:
        """Leave the namespace (``io client disconnect``); the last one closes the connection."""
        self.leave()
        await self._host.release()

    def begin_connect(self) -> asyncio.Future[None]:
        """Host hook: this socket wants to connect; the future says when it did (or not)."""
        self.active = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    def send_connect_once(self) -> None:
        """Host hook: send CONNECT unless this connection already carries one or we are in."""
        if self.active and not self.connected and not self._connect_sent:
            self.on_open()

    def on_open(self) -> None:
        """Host hook: the connection is open; send CONNECT (with auth and recovery fields)."""
        self._connect_sent = True
        auth = self.auth
        try:
            payload = auth() if callable(auth) else auth
        except Exception as exc:
            self._auth_failed(exc)
            return
        if inspect.isawaitable(payload):
            spawn(self._connect_later(payload))
        else:
            self._send_connect(payload)

    async def _connect_later(self, payload: Awaitable[Mapping[str, Any]]) -> None:
        try:
            auth = await payload
        except Exception as exc:
            self._auth_failed(exc)
            return
        self._send_connect(auth)

    def _auth_failed(self, exc: Exception) -> None:
        log.error("the auth function of %s failed", self.namespace, exc_info=exc)
        self._connect_sent = False
        self._fail_waiter(ConnectionFailedError(f"the auth function failed: {exc!r}"))

    def _send_connect(self, auth: Mapping[str, Any] | None) -> None:
        data: dict[str, Any] | None = dict(auth) if auth is not None else None
        if self._pid is not None:
            recovery: dict[str, Any] = {"pid": self._pid}
            if self._offset is not None:
                recovery["offset"] = self._offset
            data = {**recovery, **(data or {})}
        if self._host.is_open:
            self._host.send_parts(encode(Packet(CONNECT, self.namespace, data)))

    def leave(self) -> None:
        """Host hook: leave on purpose (a DISCONNECT to the server if connected)."""
        if self.connected and self._host.is_open:
            self._host.send_parts(encode(Packet(DISCONNECT, self.namespace)))
        self.active = False
        self._fail_waiter(ConnectionFailedError(f"{self.namespace}: disconnect() was called"))
        self._closed(DisconnectReason.IO_CLIENT_DISCONNECT)

    def on_connection_lost(self, reason: DisconnectReason) -> None:
        """Host hook: the Engine.IO connection ended for ``reason``."""
        self._fail_waiter(
            ConnectionFailedError(
                f"the connection ended ({reason}) before {self.namespace} connected"
            )
        )
        self._closed(reason)

    def on_connection_failed(self, error: ConnectionFailedError) -> None:
        """Host hook: a reconnection attempt failed; tell ``connect_error`` handlers."""
        if self.active and not self.connected:
            self.fire("connect_error", error)

    # -- incoming --------------------------------------------------------------------------

    def on_packet(self, packet: Packet) -> None:
        """Host hook: a packet for this namespace arrived."""
        kind = packet.type
        if kind is EVENT or kind is BINARY_EVENT:
            if self.connected:
                self._on_event(packet)
            else:
                self._receive_buffer.append(packet)
        elif kind is ACK or kind is BINARY_ACK:
            answer = self._acks.pop(packet.id, None) if packet.id is not None else None
            if answer is not None and not answer.done():
                answer.set_result(list(packet.data))
        elif kind is CONNECT:
            self._on_connect(packet.data)
        elif kind is CONNECT_ERROR:
            data = packet.data
            self._refused(ConnectRejected(str(data.get("message", "")), data.get("data")))
        elif kind is DISCONNECT:
            self.active = False
            self._closed(DisconnectReason.IO_SERVER_DISCONNECT)
            spawn(self._host.release())

    def _on_connect(self, data: Any) -> None:
        self._connect_sent = False
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            self._refused(ConnectRejected(_V2_SERVER))
            return
        pid = data.get("pid")
        pid = pid if isinstance(pid, str) else None
        self.id = data["sid"]
        self.recovered = pid is not None and pid == self._pid
        self._pid = pid
        self.connected = True
        received, self._receive_buffer = self._receive_buffer, []
        for packet in received:
            self._on_event(packet)
        waiting, self._send_buffer = self._send_buffer, []
        for _, parts in waiting:
            self._host.send_parts(parts)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.fire("connect")

    def _refused(self, error: ConnectRejected) -> None:
        self._connect_sent = False
        self.active = False
        self.fire("connect_error", error)
        self._fail_waiter(error)
        spawn(self._host.release())

    def _on_event(self, packet: Packet) -> None:
        event, *args = packet.data
        for handler in list(self._any):
            self._run(handler, [event, *args], None, event)
        handlers = self._handlers.get(event)
        if handlers:
            self._run(handlers[0], args, packet.id, event)
            for extra in handlers[1:]:
                self._run(extra, args, None, event)
        if self._pid is not None and args and isinstance(args[-1], str):
            # With connection state recovery the server appends each broadcast's offset
            # as the last argument; the JS client keeps the last one it saw, and so do we.
            self._offset = args[-1]

    def fire(self, event: str, *args: Any) -> None:
        """Run the handlers of a lifecycle event (``connect``, ``disconnect``...)."""
        for handler in list(self._handlers.get(event, ())):
            self._run(handler, list(args), None, event)

    def _run(self, handler: EventHandler, args: list[Any], ack_id: int | None, event: str) -> None:
        try:
            result = handler(*args)
        except Exception:
            log.exception("handler for %r on %s failed", event, self.namespace)
            return
        if inspect.isawaitable(result):
            spawn(self._finish(result, ack_id, event))
        elif ack_id is not None:
            self._send_ack(ack_id, result)

    async def _finish(self, awaitable: Awaitable[Any], ack_id: int | None, event: str) -> None:
        try:
            result = await awaitable
        except Exception:
            log.exception("handler for %r on %s failed", event, self.namespace)
            return
        if ack_id is not None:
            self._send_ack(ack_id, result)

    def _send_ack(self, ack_id: int, result: Any) -> None:
        if not (self.connected and self._host.is_open):
            return
        if result is None:
            args: list[Any] = []
        elif isinstance(result, tuple):
            args = list(result)
        else:
            args = [result]
        try:
            parts = encode(Packet(ACK, self.namespace, args, ack_id))
        except (TypeError, ValueError):
            log.exception("cannot send the answer of %s ack %d", self.namespace, ack_id)
            return
        self._host.send_parts(parts)

    # -- ending ----------------------------------------------------------------------------

    def _closed(self, reason: DisconnectReason) -> None:
        was_connected = self.connected
        self.connected = False
        self.id = None
        self._connect_sent = False
        buffered = {ack_id for ack_id, _ in self._send_buffer}
        for ack_id, answer in list(self._acks.items()):
            if ack_id in buffered:
                continue  # still waiting to be sent: it goes out after the next connect
            del self._acks[ack_id]
            if not answer.done():
                answer.set_exception(
                    SocketClosedError(
                        f"{self.namespace} disconnected ({reason}) before the server answered"
                    )
                )
        if was_connected:
            self.fire("disconnect", reason)

    def _fail_waiter(self, error: Exception) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
