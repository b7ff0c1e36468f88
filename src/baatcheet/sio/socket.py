"""A Socket.IO socket: one client's connection to one namespace."""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, overload

from baatcheet._types import Room, SocketId
from baatcheet.adapters.base import AckCollector, SocketSnapshot
from baatcheet.engine.frames import PreparedMessage, prepare_message
from baatcheet.errors import AckTimeoutError, EventError, SocketClosedError
from baatcheet.proto.socketio import (
    ACK,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
    Packet,
    encode,
    encode_event_text,
)
from baatcheet.sio.broadcast import BroadcastOperator, RoomArg, room_set
from baatcheet.sio.error_ack import AckErrorCode
from baatcheet.sio.handshake import Handshake

if TYPE_CHECKING:
    from baatcheet.sio.client import Client
    from baatcheet.sio.namespace import Namespace

__all__ = ["DisconnectHandler", "EventHandler", "EventRouter", "LifecycleEvent", "Socket"]

log = logging.getLogger(__name__)

EventHandler = Callable[..., Any]
"""Called with the event's arguments; may be async; its return value is the ack."""
DisconnectHandler = Callable[[str], object]
"""Called with the reason when the socket leaves (``disconnecting``, then ``disconnect``)."""
LifecycleEvent = Literal["disconnect", "disconnecting"]
"""The events the server itself fires on a socket."""
H = TypeVar("H", bound=EventHandler)
D = TypeVar("D", bound=DisconnectHandler)


class EventRouter(Protocol):
    """Finds the handler of an event when it arrives (see :meth:`Socket.route`)."""

    def handler(self, event: str) -> EventHandler | None:
        """The handler for ``event`` (incoming or lifecycle), or None if there is none."""


class Socket:
    """A client connected to a namespace.

    Handlers run in the order packets arrive. A synchronous handler runs inline; an
    ``async`` one runs as its own task, so a slow handler (a database write) never
    holds up the socket's other events.
    """

    __slots__ = (
        "_acks",
        "_any",
        "_any_outgoing",
        "_handlers",
        "_router",
        "client",
        "connected",
        "data",
        "deliver",
        "handshake",
        "id",
        "nsp",
    )

    def __init__(self, nsp: Namespace, client: Client, handshake: Handshake) -> None:
        self.id = SocketId(secrets.token_urlsafe(15))
        self.nsp = nsp
        self.client = client
        self.handshake = handshake
        self.data: dict[str, Any] = {}
        """Free space for the application (e.g. the authenticated user)."""
        self.connected = False
        self.deliver: Callable[[PreparedMessage, bool], bool] = client.session.send_prepared
        """Adapter hook: write a prepared broadcast to this client (the session's own
        method, so a broadcast costs no extra Python call per recipient)."""
        self._handlers: dict[str, list[EventHandler]] = {}
        self._any: list[EventHandler] = []
        self._any_outgoing: list[EventHandler] | None = None
        """Listeners of events sent to this client (None, not a list, while there are none)."""
        self._acks: dict[int, Callable[[list[Any]], None]] = {}
        self._router: EventRouter | None = None

    def __repr__(self) -> str:
        return f"<Socket {self.id} {self.nsp.name}>"

    # -- listening -----------------------------------------------------------------------

    @overload
    def on(self, event: LifecycleEvent, handler: D) -> D: ...
    @overload
    def on(self, event: LifecycleEvent, handler: None = None) -> Callable[[D], D]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[H], H]: ...
    def on(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Register ``handler`` for ``event``; also usable as ``@socket.on("event")``.

        Either way the handler is returned unchanged, so a decorated function keeps its
        type. ``disconnecting`` and ``disconnect`` handlers get the reason string (and
        the type checker holds them to that).
        """

        def register(fn: H) -> H:
            self._handlers.setdefault(event, []).append(fn)
            return fn

        if handler is not None:
            return register(handler)
        return register

    def on_any_outgoing(self, handler: H) -> H:
        """Register ``handler(event, *args)`` for every event :meth:`emit` sends this client.

        As Node's ``socket.onAnyOutgoing``: events sent to this socket alone, not the
        broadcasts it receives with others.
        """
        if self._any_outgoing is None:
            self._any_outgoing = []
        self._any_outgoing.append(handler)
        return handler

    def on_any(self, handler: H) -> H:
        """Register a catch-all ``handler(event, *args)`` for every incoming event."""
        self._any.append(handler)
        return handler

    def route(self, router: EventRouter) -> None:
        """Let ``router`` find the handler of each event not registered with :meth:`on`.

        For applications with many events and many idle sockets: registering a closure
        per event per socket costs a dictionary of lists of closures on every socket
        (several kilobytes), where a router costs one reference. Its handlers get the
        same arguments, give the ack the same way, and run after the registered
        handlers of a lifecycle event (``disconnecting``, ``disconnect``).
        """
        self._router = router

    def off(self, event: str, handler: EventHandler | None = None) -> None:
        """Remove one handler, or all of ``event``'s."""
        if handler is None:
            self._handlers.pop(event, None)
        elif handler in self._handlers.get(event, ()):
            self._handlers[event].remove(handler)

    # -- rooms ---------------------------------------------------------------------------

    @property
    def rooms(self) -> set[Room]:
        """The rooms this socket is in, its own id-room included."""
        return self.nsp.adapter.socket_rooms(self.id)

    def join(self, rooms: RoomArg) -> None:
        """Join one room or several."""
        nsp = self.nsp
        watcher = nsp.room_watcher
        if watcher is None:
            nsp.adapter.add_all(self.id, room_set(rooms))
            return
        wanted = room_set(rooms)
        entered = wanted - self.rooms
        nsp.adapter.add_all(self.id, wanted)
        for room in entered:
            watcher.room_joined(nsp.name, room, self.id)

    def leave(self, room: str) -> None:
        """Leave ``room``."""
        nsp = self.nsp
        watcher = nsp.room_watcher
        was_in = watcher is not None and Room(room) in self.rooms
        nsp.adapter.delete(self.id, Room(room))
        if was_in and watcher is not None:
            watcher.room_left(nsp.name, room, self.id)

    # -- sending -------------------------------------------------------------------------

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send ``event`` to this client; ``callback(*answer)`` runs when it acknowledges.

        Raises:
            SocketClosedError: The socket is disconnected.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name and cannot be emitted")
        if not self.connected:
            raise SocketClosedError(f"socket {self.id} is disconnected; {event!r} was not sent")
        ack_id = None
        nsp = self.nsp
        if callback is not None:
            ack_id = nsp.next_ack_id()
            self._acks[ack_id] = _timed_answer(nsp, callback)
        text = encode_event_text(nsp.name, event, args, ack_id)
        if text is not None:
            message = prepare_message((text,))
        else:
            packet = Packet(EVENT, nsp.name, [event, *args], ack_id)
            message = prepare_message(encode(packet))
        self.client.session.send_prepared(message)
        nsp.observer.packet_out(len(message.ws))
        if self._any_outgoing is not None:
            for listener in list(self._any_outgoing):
                self._run(listener, [event, *args], None, event)

    # ``timeout`` mirrors Node's API; the deadline covers only the wait for the answer.
    async def emit_with_ack(
        self,
        event: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[Any]:
        """Send ``event`` and wait for the client's answer (its arguments, as a list).

        Raises:
            AckTimeoutError: No answer within ``timeout`` seconds (default 10).
            SocketClosedError: The socket disconnected before answering.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Any]] = loop.create_future()
        self._acks_pending_future(answer)

        def resolve(*args: Any) -> None:
            if not answer.done():
                answer.set_result(list(args))

        self.emit(event, *args, callback=resolve)
        limit = 10.0 if timeout is None else timeout
        try:
            return await asyncio.wait_for(answer, limit)
        except TimeoutError:
            raise AckTimeoutError(event, limit) from None

    def _acks_pending_future(self, future: asyncio.Future[list[Any]]) -> None:
        """Fail ``future`` when the socket disconnects before the answer comes."""

        def on_disconnect(reason: str) -> None:
            if not future.done():
                future.set_exception(SocketClosedError(f"socket disconnected ({reason})"))

        self.on("disconnect", on_disconnect)
        future.add_done_callback(lambda _: self.off("disconnect", on_disconnect))

    def timeout(self, seconds: float) -> _TimedSocket:
        """``await socket.timeout(5).emit_with_ack(...)``, as in Node."""
        return _TimedSocket(self, seconds)

    # -- broadcasting from this socket ---------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.nsp, except_rooms=frozenset((Room(self.id),)))

    @property
    def broadcast(self) -> BroadcastOperator:
        """Everyone in the namespace but this socket."""
        return self._operator()

    def to(self, rooms: RoomArg) -> BroadcastOperator:
        """Everyone in ``rooms`` but this socket."""
        return self._operator().to(rooms)

    def in_(self, rooms: RoomArg) -> BroadcastOperator:
        """Node's alias of :meth:`to`."""
        return self.to(rooms)

    def except_(self, rooms: RoomArg) -> BroadcastOperator:
        """Everyone but this socket and the sockets in ``rooms``."""
        return self._operator().except_(rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        """This socket only, dropping the packet if it cannot be sent right now."""
        return BroadcastOperator(self.nsp, rooms=frozenset((Room(self.id),)), is_volatile=True)

    # -- disconnecting -------------------------------------------------------------------

    def disconnect(self, close: bool = False) -> None:
        """Leave the namespace; with ``close``, end the whole connection."""
        if not self.connected:
            return
        if close:
            self.client.close_connection()
            return
        self.client.send_packet(Packet(DISCONNECT, self.nsp.name))
        self.on_close("server namespace disconnect")

    # -- adapter callbacks (Recipient) ---------------------------------------------------

    def expect_ack(self, ack_id: int, collector: AckCollector) -> None:
        """Send the client's answer to ``ack_id`` to ``collector``."""
        self._acks[ack_id] = collector

    def snapshot(self) -> SocketSnapshot:
        """This socket as ``fetch_sockets`` returns it (the same shape on every node)."""
        return SocketSnapshot(
            id=self.id,
            handshake=self.handshake.to_json(),
            rooms=frozenset(self.rooms),
            data=self.data,
        )

    # -- incoming ------------------------------------------------------------------------

    def on_event(self, event: str, args: list[Any], ack_id: int | None) -> None:
        """Dispatch one incoming event to its handlers."""
        for handler in self._any:
            self._run(handler, [event, *args], None, event)
        handlers = self._handlers.get(event)
        if not handlers:
            routed = self._router.handler(event) if self._router is not None else None
            if routed is not None:
                self._run(routed, args, ack_id, event)
            elif ack_id is not None:
                self.refuse(ack_id, AckErrorCode.UNKNOWN_EVENT, f"no handler for event {event!r}")
            return
        self._run(handlers[0], args, ack_id, event)
        for extra in handlers[1:]:
            self._run(extra, args, None, event)

    def on_ack(self, ack_id: int, args: list[Any]) -> None:
        """The client answered one of our emits."""
        callback = self._acks.pop(ack_id, None)
        if callback is None:
            log.debug("%r: ack %d matches no emit (late or duplicate)", self, ack_id)
            return
        callback(args)

    def on_close(self, reason: str) -> None:
        """Leave the namespace for ``reason``; runs disconnecting/disconnect handlers."""
        if not self.connected:
            return
        self._fire("disconnecting", reason)
        self.connected = False
        self.nsp.remove(self, reason)
        # Free the namespace slot on the connection so the client may connect to it again.
        self.client.release(self)
        self._acks.clear()
        self._fire("disconnect", reason)

    def _fire(self, event: str, *args: Any) -> None:
        for handler in list(self._handlers.get(event, ())):
            self._run(handler, list(args), None, event)
        routed = self._router.handler(event) if self._router is not None else None
        if routed is not None:
            self._run(routed, list(args), None, event)

    def _run(self, handler: EventHandler, args: list[Any], ack_id: int | None, event: str) -> None:
        try:
            result = handler(*args)
        except Exception as exc:
            self._handler_failed(exc, ack_id, event)
            return
        if inspect.isawaitable(result):
            self.client.run_task(self._finish(result, ack_id, event))
        elif ack_id is not None:
            self._send_ack(ack_id, _ack_args(result))

    async def _finish(self, awaitable: Any, ack_id: int | None, event: str) -> None:
        try:
            result = await awaitable
        except Exception as exc:
            self._handler_failed(exc, ack_id, event)
            return
        if ack_id is not None:
            self._send_ack(ack_id, _ack_args(result))

    def _handler_failed(self, exc: Exception, ack_id: int | None, event: str) -> None:
        if isinstance(exc, EventError):
            code, message = exc.code, exc.message
        else:
            log.exception("handler for %r on %r failed", event, self, exc_info=exc)
            code, message = AckErrorCode.INTERNAL, f"the server failed to handle {event!r}"
        if ack_id is not None:
            self.refuse(ack_id, code, message)

    def refuse(self, ack_id: int, code: str, message: str) -> None:
        """Answer the client's ``ack_id`` with an error ack instead of running a handler.

        The ack's shape is the namespace's :attr:`~baatcheet.sio.Namespace.error_ack`.
        """
        # str(): an AckErrorCode reaches the application's shape as the plain string.
        self._send_ack(ack_id, [self.nsp.error_ack(str(code), message)])

    def _send_ack(self, ack_id: int, args: list[Any]) -> None:
        if self.connected:
            self.client.send_packet(Packet(ACK, self.nsp.name, args, ack_id))


class _TimedSocket:
    __slots__ = ("_seconds", "_socket")

    def __init__(self, socket: Socket, seconds: float) -> None:
        self._socket = socket
        self._seconds = seconds

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        return await self._socket.emit_with_ack(event, *args, timeout=self._seconds)


def _timed_answer(nsp: Namespace, callback: Callable[..., Any]) -> Callable[[list[Any]], None]:
    """Call ``callback(*answer)``, after telling the observer how long the answer took."""
    sent = time.monotonic()

    def answered(answer: list[Any]) -> None:
        nsp.observer.ack_round_trip(nsp.label, time.monotonic() - sent)
        callback(*answer)

    return answered


def _ack_args(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]
