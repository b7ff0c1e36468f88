"""The asyncio Socket.IO v5 client: one Engine.IO connection, any number of namespaces.

``SocketIOClient`` plays the JS client's ``Manager`` and its first ``Socket`` at once::

    client = SocketIOClient("http://127.0.0.1:3000", auth={"token": token})

    @client.on("chat message")
    def show(message: str) -> None:
        print(message)

    await client.connect()
    client.emit("chat message", "hello")
    answer = await client.emit_with_ack("rooms:list", {}, timeout=5)
    chat = client.of("/chat")            # another namespace, same connection
    await chat.connect()
    await client.disconnect()

It owns the connection: it decodes incoming packets for the namespaces' sockets, and when
the connection is lost (any reason but a deliberate disconnect) it reconnects with
exponential backoff and jitter, then re-CONNECTs every namespace that was connected.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import ssl
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from types import TracebackType
from typing import Any, Final, Self, TypeVar, overload
from urllib.parse import parse_qsl, urlsplit

from baatcheet.client._tasks import spawn
from baatcheet.client.backoff import Backoff
from baatcheet.client.engine import EngineClient
from baatcheet.client.errors import ConnectionFailedError
from baatcheet.client.reasons import DisconnectReason
from baatcheet.client.socket import Auth, ClientSocket, EventHandler
from baatcheet.client.transport import Transport, TransportFactory, TransportTarget
from baatcheet.client.transport_polling import PollingTransport
from baatcheet.client.transport_websocket import WebSocketTransport
from baatcheet.errors import ProtocolError
from baatcheet.proto.socketio import Decoder

__all__ = ["ManagerEvent", "SocketIOClient", "default_transport"]

log = logging.getLogger(__name__)

H = TypeVar("H", bound=EventHandler)
M = TypeVar("M", bound=Callable[..., Any])

_TRANSPORTS: Final = ("polling", "websocket")
_MAX_ATTACHMENTS: Final = 1000
"""Attachments one incoming packet may announce (the JS client sets no limit at all)."""


class ManagerEvent(StrEnum):
    """Events of the connection itself (the JS ``socket.io`` Manager's), for ``on_manager``."""

    OPEN = "open"
    """The Engine.IO connection opened (first time or after a reconnection)."""
    CLOSE = "close"
    """The connection ended; the handler gets the :class:`DisconnectReason`."""
    PING = "ping"
    """The server pinged."""
    UPGRADE = "upgrade"
    """The connection moved to another transport; the handler gets its name."""
    RECONNECT_ATTEMPT = "reconnect_attempt"
    """A reconnection attempt starts; the handler gets the attempt number (from 1)."""
    RECONNECT = "reconnect"
    """A reconnection succeeded; the handler gets the number of attempts it took."""
    RECONNECT_ERROR = "reconnect_error"
    """A reconnection attempt failed; the handler gets the ConnectionFailedError."""
    RECONNECT_FAILED = "reconnect_failed"
    """``reconnection_attempts`` were all used up; the client stops trying."""


def default_transport(name: str, target: TransportTarget) -> Transport:
    """Build the ``polling`` or ``websocket`` transport (the default transport factory)."""
    if name == "polling":
        return PollingTransport(target)
    if name == "websocket":
        return WebSocketTransport(target)
    raise ValueError(f"unknown transport {name!r}: use 'polling' or 'websocket'")


class SocketIOClient:
    """A Socket.IO client, close to the JS client's API (names in snake_case, delays in s).

    Args:
        url: The server, e.g. ``http://127.0.0.1:3000``; a path (``/chat``) names the
            namespace when ``namespaces`` is not given; its query goes with every request.
        namespaces: Namespaces that :meth:`connect` connects; the first one is the one
            :meth:`on`, :meth:`emit` and friends act on. Default: the URL's, else ``/``.
        auth: The CONNECT payload of every namespace (``socket.handshake.auth`` on the
            server), or a function returning it (async allowed), called at each connect.
        transports: Transports in order; the first opens the session. ``polling`` first
            upgrades to ``websocket`` when both are listed (the JS default).
        upgrade: Whether a polling session may move to a WebSocket.
        path: The server's Socket.IO path.
        query: Extra query parameters for the handshake.
        headers: Extra HTTP headers (also on the WebSocket upgrade request).
        ssl: TLS context for ``https``; None uses the system's certificate store.
        reconnection: Whether to reconnect after the connection is lost.
        reconnection_attempts: Attempts before giving up (None: forever).
        reconnection_delay: Seconds before the first attempt; doubles each attempt...
        reconnection_delay_max: ...up to this many seconds.
        randomization_factor: Jitter, 0 to 1: each delay moves by up to this share.
        timeout: Seconds a connection (handshake plus namespace connects) may take.
        ack_timeout: Default seconds ``emit_with_ack`` waits (None: wait forever).
        try_all_transports: Fall back to the next transport when the first cannot open.
        transport_factory: Builds transports by name (``baatcheet.testing`` plugs an
            in-memory one in here); default :func:`default_transport`.
    """

    def __init__(
        self,
        url: str,
        *,
        namespaces: Sequence[str] | None = None,
        auth: Auth = None,
        transports: Sequence[str] = _TRANSPORTS,
        upgrade: bool = True,
        path: str = "/socket.io",
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ssl: ssl.SSLContext | None = None,
        reconnection: bool = True,
        reconnection_attempts: int | None = None,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        timeout: float = 20.0,
        ack_timeout: float | None = 10.0,
        try_all_transports: bool = False,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"url must start with http://, https://, ws:// or wss://: {url!r}")
        scheme = "https" if parts.scheme in ("https", "wss") else "http"
        if not transports:
            raise ValueError("transports must name at least one transport")
        if transport_factory is None:
            unknown = [name for name in transports if name not in _TRANSPORTS]
            if unknown:
                raise ValueError(f"unknown transports {unknown}: use 'polling' or 'websocket'")
        self._target = TransportTarget(
            url=f"{scheme}://{parts.netloc}/{path.strip('/')}/",
            query={**dict(parse_qsl(parts.query)), **(query or {})},
            headers=dict(headers or {}),
            ssl=ssl,
        )
        self._transports = tuple(transports)
        self._factory = transport_factory or default_transport
        self._upgrade = upgrade
        self._try_all = try_all_transports
        self._reconnection = reconnection
        self._reconnection_attempts = reconnection_attempts
        self._backoff = Backoff(reconnection_delay, reconnection_delay_max, randomization_factor)
        self._timeout = timeout
        self._auth = auth
        self._ack_timeout = ack_timeout
        self._sockets: dict[str, ClientSocket] = {}
        self._engine: EngineClient | None = None
        self._decoder = Decoder(max_attachments=_MAX_ATTACHMENTS)
        self._open_lock = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None
        self._skip_reconnect = False
        self._manager_handlers: dict[ManagerEvent, list[Callable[..., Any]]] = {}
        url_namespace = parts.path if parts.path not in ("", "/") else "/"
        names = list(namespaces) if namespaces else [url_namespace]
        self.socket: ClientSocket = self.of(names[0])
        """The first namespace's socket: :meth:`on`, :meth:`emit`... act on it."""
        for name in names[1:]:
            self.of(name)

    # -- namespaces ------------------------------------------------------------------------

    def of(self, namespace: str, *, auth: Auth = None) -> ClientSocket:
        """The socket of ``namespace`` on this connection, made on first use.

        A socket made after :meth:`connect` is connected with ``await socket.connect()``.
        ``auth`` overrides the client's for this namespace.
        """
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        socket = self._sockets.get(namespace)
        if socket is None:
            socket = ClientSocket(
                self,
                namespace,
                auth=auth if auth is not None else self._auth,
                ack_timeout=self._ack_timeout,
            )
            self._sockets[namespace] = socket
        elif auth is not None:
            socket.auth = auth
        return socket

    # -- the first namespace's socket ------------------------------------------------------

    @overload
    def on(self, event: str, handler: H) -> H: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[H], H]: ...
    def on(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """``@client.on("event")``: a handler on the first namespace (see ``ClientSocket.on``)."""
        return self.socket.on(event, handler)

    def on_any(self, handler: H) -> H:
        """A catch-all ``handler(event, *args)`` on the first namespace."""
        return self.socket.on_any(handler)

    def off(self, event: str, handler: EventHandler | None = None) -> None:
        """Remove handlers from the first namespace."""
        self.socket.off(event, handler)

    def emit(self, event: str, *args: Any) -> None:
        """Emit on the first namespace (see ``ClientSocket.emit``)."""
        self.socket.emit(event, *args)

    # ``timeout`` mirrors the JS client's socket.timeout(ms); it bounds only the wait.
    async def emit_with_ack(
        self,
        event: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[Any]:
        """Emit on the first namespace and return the ack (see ``ClientSocket.emit_with_ack``)."""
        return await self.socket.emit_with_ack(event, *args, timeout=timeout)

    @property
    def connected(self) -> bool:
        """Whether the first namespace is connected."""
        return self.socket.connected

    @property
    def sid(self) -> str | None:
        """The first namespace's socket id."""
        return self.socket.id

    @property
    def engine(self) -> EngineClient | None:
        """The Engine.IO connection (its ``sid``, ``transport``, ``handshake``), when open."""
        return self._engine

    @property
    def transport(self) -> str | None:
        """The transport carrying the connection (``polling``/``websocket``), when open."""
        return self._engine.transport if self._engine is not None else None

    # -- connection events -----------------------------------------------------------------

    @overload
    def on_manager(self, event: ManagerEvent | str, handler: M) -> M: ...
    @overload
    def on_manager(self, event: ManagerEvent | str, handler: None = None) -> Callable[[M], M]: ...
    def on_manager(
        self, event: ManagerEvent | str, handler: M | None = None
    ) -> M | Callable[[M], M]:
        """Register a handler of a connection event (``@client.on_manager("reconnect")``).

        Raises:
            ValueError: ``event`` is not a :class:`ManagerEvent`.
        """
        kind = ManagerEvent(event)

        def register(fn: M) -> M:
            self._manager_handlers.setdefault(kind, []).append(fn)
            return fn

        return register(handler) if handler is not None else register

    def _emit_manager(self, event: ManagerEvent, *args: Any) -> None:
        for handler in list(self._manager_handlers.get(event, ())):
            try:
                result = handler(*args)
                if inspect.isawaitable(result):
                    spawn(_await(result))
            except Exception:
                log.exception("%s handler failed", event)

    # -- connecting ------------------------------------------------------------------------

    async def connect(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Open the connection and connect every namespace; all of them or none.

        Raises:
            ConnectRejected: A namespace's middleware refused (``message``, ``data``);
                the client is then disconnected from every namespace.
            ConnectionFailedError: The server could not be reached or did not answer
                within ``timeout`` seconds (default: the client's ``timeout``).
        """
        self._skip_reconnect = False
        sockets = [socket for socket in self._sockets.values() if not socket.connected]
        waiters = [socket.begin_connect() for socket in sockets]
        limit = self._timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                await self.open()
                for socket in sockets:
                    socket.send_connect_once()
                await asyncio.gather(*waiters)
        except BaseException as exc:
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
            await self.disconnect()
            if isinstance(exc, TimeoutError):
                raise ConnectionFailedError(f"not connected within {limit:g}s") from None
            raise

    async def disconnect(self) -> None:
        """Leave every namespace (``io client disconnect``) and close the connection."""
        for socket in list(self._sockets.values()):
            socket.leave()
        await self.release()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    # -- SocketHost --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether the Engine.IO connection is open."""
        return self._engine is not None and self._engine.is_open

    def send_parts(self, parts: Sequence[str | bytes]) -> None:
        """Send one encoded Socket.IO packet on the connection."""
        engine = self._engine
        if engine is not None:
            engine.send(parts)

    async def open(self) -> None:
        """Open the connection unless it is; then CONNECT the active namespaces.

        Raises:
            ConnectionFailedError: The server could not be reached or refused.
        """
        async with self._open_lock:
            if self._engine is not None:
                return
            engine = EngineClient(
                self._target,
                self._transports,
                self._factory,
                self,
                upgrade=self._upgrade,
                try_all_transports=self._try_all,
            )
            self._decoder = Decoder(max_attachments=_MAX_ATTACHMENTS)
            self._engine = engine
            try:
                await engine.open()
            except BaseException:
                self._engine = None
                raise
            # As the JS Manager's open(): a connection opened again (say by socket.connect()
            # after "io server disconnect") is reconnected if it is lost.
            self._skip_reconnect = False
        self._emit_manager(ManagerEvent.OPEN)
        for socket in list(self._sockets.values()):
            if socket.active and not socket.connected:
                socket.on_open()

    async def release(self) -> None:
        """Close the connection (no reconnection) once no namespace is active."""
        if any(socket.active for socket in self._sockets.values()):
            return
        self._skip_reconnect = True
        task = self._reconnecting
        self._reconnecting = None
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            await asyncio.wait({task})
        engine = self._engine
        self._engine = None
        if engine is not None:
            await engine.close()
            self._emit_manager(ManagerEvent.CLOSE, DisconnectReason.FORCED_CLOSE)

    # -- EngineHandler -----------------------------------------------------------------------

    def on_engine_message(self, data: str | bytes) -> None:
        """Decode a message and hand the packet to its namespace's socket."""
        try:
            packet = self._decoder.feed(data)
        except ProtocolError as exc:
            log.warning("the server sent a bad packet, reconnecting: %s", exc)
            engine = self._engine
            self._connection_lost(DisconnectReason.PARSE_ERROR)
            if engine is not None:
                spawn(engine.close())
            return
        if packet is None:
            return
        socket = self._sockets.get(packet.namespace)
        if socket is not None and socket.active:
            socket.on_packet(packet)

    def on_engine_ping(self) -> None:
        """Tell ``ping`` handlers."""
        self._emit_manager(ManagerEvent.PING)

    def on_engine_upgrade(self, transport: str) -> None:
        """Tell ``upgrade`` handlers."""
        self._emit_manager(ManagerEvent.UPGRADE, transport)

    def on_engine_close(self, reason: DisconnectReason, description: str) -> None:
        """The connection was lost: disconnect the sockets, then reconnect if wanted."""
        log.info("connection to %s lost: %s (%s)", self._target.url, reason, description)
        self._connection_lost(reason)

    def _connection_lost(self, reason: DisconnectReason) -> None:
        self._engine = None
        self._backoff.reset()
        for socket in list(self._sockets.values()):
            socket.on_connection_lost(reason)
        self._emit_manager(ManagerEvent.CLOSE, reason)
        active = any(socket.active for socket in self._sockets.values())
        idle = self._reconnecting is None or self._reconnecting.done()
        if self._reconnection and not self._skip_reconnect and active and idle:
            self._reconnecting = spawn(self._reconnect())

    async def _reconnect(self) -> None:
        backoff = self._backoff
        limit = self._reconnection_attempts
        while not self._skip_reconnect:
            if limit is not None and backoff.attempts >= limit:
                backoff.reset()
                self._emit_manager(ManagerEvent.RECONNECT_FAILED)
                return
            await asyncio.sleep(backoff.duration(random.random()))
            self._emit_manager(ManagerEvent.RECONNECT_ATTEMPT, backoff.attempts)
            try:
                async with asyncio.timeout(self._timeout):
                    await self.open()
            except (ConnectionFailedError, TimeoutError) as exc:
                error = (
                    exc
                    if isinstance(exc, ConnectionFailedError)
                    else ConnectionFailedError(f"no connection within {self._timeout:g}s")
                )
                self._emit_manager(ManagerEvent.RECONNECT_ERROR, error)
                for socket in list(self._sockets.values()):
                    socket.on_connection_failed(error)
                continue
            attempts = backoff.attempts
            backoff.reset()
            self._emit_manager(ManagerEvent.RECONNECT, attempts)
            return


async def _await(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("async connection event handler failed")
