"""Namespaces: separate channels on one connection, each with its middleware and rooms."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args, overload

from baatcheet._types import Room, SocketId
from baatcheet.adapters.base import Adapter, AdapterFactory, ServerSideReply
from baatcheet.errors import AckTimeoutError, ConnectRejected
from baatcheet.sio._tasks import spawn
from baatcheet.sio.broadcast import BroadcastOperator, BroadcastTargets
from baatcheet.sio.error_ack import ErrorAck, plain_error_ack
from baatcheet.sio.observer import NO_SERVER_OBSERVER, RoomWatcher, ServerObserver
from baatcheet.sio.socket import Socket

if TYPE_CHECKING:
    from baatcheet.sio.client import Client
    from baatcheet.sio.handshake import Handshake

__all__ = [
    "ConnectionEvent",
    "ConnectionHandler",
    "DynamicNamespace",
    "Middleware",
    "Namespace",
    "NamespaceMatcher",
    "Registration",
    "Registry",
    "ServerSideListener",
]

log = logging.getLogger(__name__)

Middleware = Callable[[Socket], Awaitable[None] | None]
"""Runs before ``connection``; raise :class:`ConnectRejected` to refuse the socket."""
ConnectionHandler = Callable[[Socket], Awaitable[None] | None]
"""Runs once a socket is admitted: the place to register its event handlers."""
ConnectionEvent = Literal["connection", "connect"]
"""The names under which :meth:`Registration.on` takes a connection handler."""
NamespaceMatcher = re.Pattern[str] | Callable[[str, dict[str, Any]], bool]
"""Which names a dynamic namespace family creates: a regex, or ``matcher(name, auth)``."""
ServerSideListener = Callable[..., Any]
"""Receives a server-side event from another node: its arguments, then, when that node
waits for an answer, a callback to call once with the answer (as Node's ``io.on``)."""

# One type variable per kind of callback, each bound to the kind's signature: a
# decorator hands back exactly the function it was given, and mypy still checks the
# function against what the server will call it with.
M = TypeVar("M", bound=Middleware)
C = TypeVar("C", bound=ConnectionHandler)
L = TypeVar("L", bound=ServerSideListener)

_CONNECTION_EVENTS: frozenset[str] = frozenset(get_args(ConnectionEvent))


class Registry:
    """What the application registered on a namespace: middleware, handlers, server-side
    listeners and the error-ack shape.

    Shared by a dynamic namespace's children, so registering on the family reaches every
    child, present and future.
    """

    __slots__ = ("connection_handlers", "error_ack", "middlewares", "server_side")

    def __init__(self, error_ack: ErrorAck) -> None:
        self.middlewares: list[Middleware] = []
        self.connection_handlers: list[ConnectionHandler] = []
        self.server_side: dict[str, list[ServerSideListener]] = {}
        self.error_ack = error_ack


class Registration:
    """``use`` and ``on``, typed so that a decorated function keeps its own type.

    Shared by :class:`Namespace`, :class:`DynamicNamespace` and the server (which acts
    on ``/``); each says where registrations go through :meth:`_registry`.
    """

    __slots__ = ()

    def _registry(self) -> Registry:
        raise NotImplementedError

    def use(self, middleware: M) -> M:
        """Add a middleware (also usable as ``@nsp.use``); returns it unchanged."""
        self._registry().middlewares.append(middleware)
        return middleware

    @overload
    def on(self, event: ConnectionEvent, handler: C) -> C: ...
    @overload
    def on(self, event: ConnectionEvent, handler: None = None) -> Callable[[C], C]: ...
    @overload
    def on(self, event: str, handler: L) -> L: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[L], L]: ...
    def on(self, event: str, handler: L | None = None) -> L | Callable[[L], L]:
        """Register a ``connection`` handler, or a listener of server-side ``event``.

        Also usable as ``@nsp.on("connection")``; either way the function is returned
        unchanged. ``connection`` (or ``connect``) handlers get the new :class:`Socket`.
        Any other event name receives what other nodes send with ``server_side_emit``,
        as Node's ``io.on(event)`` does.
        """
        registry = self._registry()

        def register(fn: L) -> L:
            if event in _CONNECTION_EVENTS:
                registry.connection_handlers.append(fn)
            else:
                registry.server_side.setdefault(event, []).append(fn)
            return fn

        return register(handler) if handler is not None else register


class Namespace(BroadcastTargets, Registration):
    """One namespace (``/``, ``/chat``, …): its sockets, middleware, and adapter.

    Args:
        name: The namespace's name.
        adapter_factory: Builds its adapter.
        error_ack: Builds the answer to an event that fails (see :attr:`error_ack`).
        observer: Told of sockets joining and leaving, broadcasts and ack round trips.
        label: How the observer names this namespace; its name by default.
        registry: What a dynamic family's children share (middleware, handlers, error
            ack); by default the namespace's own, made with ``error_ack``.
    """

    def __init__(
        self,
        name: str,
        adapter_factory: AdapterFactory,
        *,
        error_ack: ErrorAck = plain_error_ack,
        observer: ServerObserver = NO_SERVER_OBSERVER,
        label: str | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.name = name
        self.sockets: dict[SocketId, Socket] = {}
        """Sockets connected to this namespace on this node."""
        self.observer = observer
        self.label = name if label is None else label
        """The namespace's name in metrics (a dynamic child's is its family's pattern)."""
        self.room_watcher: RoomWatcher | None = None
        """Told of room joins and leaves, when set (the admin UI's development mode)."""
        self._shared = registry or Registry(error_ack)
        self.adapter: Adapter = adapter_factory(name, self.sockets, self)
        self._ack_id = 0
        self._ready: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Namespace {self.name} sockets={len(self.sockets)}>"

    # -- registration ------------------------------------------------------------------

    def _registry(self) -> Registry:
        return self._shared

    @property
    def error_ack(self) -> ErrorAck:
        """Builds the ack argument when this namespace answers in a handler's place.

        That is: no handler for the event (``unknown_event``), a handler raised
        ``EventError(code, message)`` or failed (``internal``), or the event was over
        the rate limit (``rate_limited``). The server's ``error_ack`` by default; an
        application that owns the namespace may set its own shape (the chat does).
        """
        return self._shared.error_ack

    @error_ack.setter
    def error_ack(self, error_ack: ErrorAck) -> None:
        self._shared.error_ack = error_ack

    async def ensure_ready(self) -> None:
        """Initialise the adapter once (a cluster adapter subscribes here)."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self.adapter.init())
        await asyncio.shield(self._ready)

    # -- server-side events between nodes ------------------------------------------------

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to this namespace's listeners on every other node."""
        await self.adapter.server_side_emit([event, *args])

    async def server_side_emit_with_ack(
        self,
        event: str,
        *args: Any,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors Node's io.timeout(ms)
    ) -> list[Any]:
        """Send ``event`` to every other node and gather one answer from each.

        Raises:
            AckTimeoutError: Some nodes did not answer within ``timeout`` seconds.
            ClusterUnavailableError: The cluster cannot be reached.
        """
        try:
            async with asyncio.timeout(timeout):
                return await self.adapter.server_side_emit([event, *args], with_ack=True)
        except TimeoutError:
            raise AckTimeoutError(event, timeout) from None

    def on_server_side_emit(self, args: list[Any], reply: ServerSideReply | None) -> None:
        """Adapter callback: another node sent ``[event, *args]``."""
        if not args or not isinstance(args[0], str):
            log.info("%s: ignoring a server-side event without a name", self.name)
            return
        event, rest = args[0], args[1:]
        listeners = self._shared.server_side.get(event, ())
        extra = [] if reply is None else [reply]  # the adapter sends only the first answer
        for listener in listeners:
            try:
                outcome = listener(*rest, *extra)
                if inspect.isawaitable(outcome):
                    spawn(outcome)
            except Exception:
                log.exception("server-side listener for %r on %s failed", event, self.name)

    def next_ack_id(self) -> int:
        """A fresh acknowledgement id, unique within this namespace."""
        self._ack_id += 1
        return self._ack_id

    def broadcast_sent(self, fanout: int, size: int) -> None:
        """Adapter callback: one local fan-out happened; tell the observer, once."""
        self.observer.broadcast(self.label, fanout, size)

    # -- connecting ----------------------------------------------------------------------

    @property
    def admits_at_once(self) -> bool:
        """Whether a CONNECT can be answered without waiting: ready, and no middleware.

        Then :meth:`connect_at_once` admits a socket in the packet's own loop turn, with
        no task: in a reconnect storm that is most of the namespace's work per client.
        """
        ready = self._ready
        return (
            ready is not None
            and ready.done()
            and not ready.cancelled()
            and ready.exception() is None
            and not self._shared.middlewares
        )

    async def connect(self, client: Client, handshake: Handshake) -> Socket:
        """Run the middleware chain, then admit the socket and run ``connection`` handlers.

        Raises:
            ConnectRejected: A middleware refused the socket.
        """
        socket = Socket(self, client, handshake)
        for middleware in self._shared.middlewares:
            outcome = middleware(socket)
            if inspect.isawaitable(outcome):
                await outcome
        if client.closed:
            raise ConnectRejected("connection closed during middleware")
        self._admit(socket)
        return socket

    def connect_at_once(self, client: Client, handshake: Handshake) -> Socket:
        """:meth:`connect` for a namespace that :attr:`admits_at_once`."""
        socket = Socket(self, client, handshake)
        self._admit(socket)
        return socket

    def _admit(self, socket: Socket) -> None:
        self.sockets[socket.id] = socket
        socket.connected = True
        self.adapter.add_all(socket.id, (Room(socket.id),))
        self.observer.namespace_connected(self.label)

    async def run_connection_handlers(self, socket: Socket) -> None:
        """Call every ``connection`` handler; a failing one is logged, not fatal."""
        rest = self.start_connection_handlers(socket)
        if rest is not None:
            await rest

    def start_connection_handlers(self, socket: Socket) -> Coroutine[Any, Any, None] | None:
        """Call the ``connection`` handlers up to the first that returns an awaitable.

        Returns None when they all ran, else a coroutine that awaits that one and calls the
        rest in order (the caller runs it as a task). A failing handler is logged, not fatal.
        """
        handlers = self._shared.connection_handlers
        for index, handler in enumerate(handlers):
            try:
                outcome = handler(socket)
            except Exception:
                log.exception("connection handler of %s failed", self.name)
                continue
            if inspect.isawaitable(outcome):
                return self._finish_connection_handlers(socket, outcome, handlers[index + 1 :])
        return None

    async def _finish_connection_handlers(
        self,
        socket: Socket,
        pending: Awaitable[Any],
        handlers: Sequence[ConnectionHandler],
    ) -> None:
        try:
            await pending
        except Exception:
            log.exception("connection handler of %s failed", self.name)
        for handler in handlers:
            try:
                outcome = handler(socket)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("connection handler of %s failed", self.name)

    def remove(self, socket: Socket, reason: str) -> None:
        """Forget a socket that disconnected for ``reason``."""
        self.adapter.delete_all(socket.id)
        self.sockets.pop(socket.id, None)
        self.observer.namespace_disconnected(self.label, reason)

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self)


class DynamicNamespace(Registration):
    """A family of namespaces created on demand when a client asks for a matching name.

    What is registered on the family (middleware, handlers, the error-ack shape) holds
    for every child, present and future.
    """

    def __init__(
        self,
        matcher: NamespaceMatcher,
        adapter_factory: AdapterFactory,
        *,
        error_ack: ErrorAck = plain_error_ack,
        observer: ServerObserver = NO_SERVER_OBSERVER,
    ) -> None:
        self.matcher = matcher
        self.children: dict[str, Namespace] = {}
        self._shared = Registry(error_ack)
        self._adapter_factory = adapter_factory
        self._observer = observer
        self.label = (
            matcher.pattern
            if isinstance(matcher, re.Pattern)
            else getattr(matcher, "__name__", "dynamic")
        )
        """The children's name in metrics: one label for the family, however many."""

    def matches(self, name: str, auth: dict[str, Any]) -> bool:
        """True if a client may create namespace ``name`` from this family."""
        if isinstance(self.matcher, re.Pattern):
            return self.matcher.fullmatch(name) is not None
        return bool(self.matcher(name, auth))

    def child(self, name: str) -> Namespace:
        """The namespace ``name``, created with this family's middleware and handlers."""
        namespace = self.children.get(name)
        if namespace is None:
            namespace = Namespace(
                name,
                self._adapter_factory,
                observer=self._observer,
                label=self.label,
                registry=self._shared,
            )
            self.children[name] = namespace
        return namespace

    def _registry(self) -> Registry:
        return self._shared

    @property
    def error_ack(self) -> ErrorAck:
        """Builds every child's error acks (see :attr:`Namespace.error_ack`)."""
        return self._shared.error_ack

    @error_ack.setter
    def error_ack(self, error_ack: ErrorAck) -> None:
        self._shared.error_ack = error_ack

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every socket of every child namespace."""
        for namespace in self.children.values():
            namespace.emit(event, *args)
