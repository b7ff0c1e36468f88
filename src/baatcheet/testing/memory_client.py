"""The in-memory test client: a real client and a real server, no network in between.

::

    server = Server(Settings())           # never started: no port, no listener
    install_handlers(server)

    async def test_chat_message_reaches_everyone() -> None:
        alice = await connect_test_client(server, auth={"token": "alice"})
        bob = await connect_test_client(server, auth={"token": "bob"})
        alice.emit("chat message", "hi")
        assert await bob.next_event("chat message") == ["hi"]

The client is :class:`baatcheet.client.SocketIOClient` over
:class:`~baatcheet.testing.transport_memory.MemoryTransport`; the server runs its own
handshake, middleware, namespaces, rooms, acks and limits. Only the socket is fake, so a
round trip costs microseconds, not a trip through the kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from baatcheet._types import EngineSid, Room
from baatcheet.client import Auth, ClientSocket, SocketIOClient
from baatcheet.client.transport import Transport, TransportTarget
from baatcheet.sio.client import Client
from baatcheet.testing.event_log import EventLog, ReceivedEvent
from baatcheet.testing.transport_memory import MemoryTransport

if TYPE_CHECKING:
    from baatcheet.sio.server import Server
    from baatcheet.sio.socket import Socket

__all__ = ["TestClient", "connect_test_client"]

H = TypeVar("H", bound=Callable[..., Any])

_URL = "http://baatcheet.test"
"""Never resolved: the in-memory transport goes straight to the server object."""


class TestClient:
    """One namespace of an in-memory client connection, with its received events.

    Attributes:
        server: The server it is connected to.
        client: The underlying :class:`~baatcheet.client.SocketIOClient`.
        socket: Its socket for this namespace.
    """

    __test__ = False  # a library class, not a test case for pytest to collect

    def __init__(self, server: Server, client: SocketIOClient, socket: ClientSocket) -> None:
        self.server = server
        self.client = client
        self.socket = socket
        self._log = EventLog.attach(socket)

    def __repr__(self) -> str:
        return f"<TestClient {self.socket.namespace} id={self.id}>"

    # -- state -----------------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The socket id the server gave (``socket.id`` on the server)."""
        return self.socket.id

    @property
    def connected(self) -> bool:
        """Whether the socket is connected."""
        return self.socket.connected

    @property
    def server_socket(self) -> Socket:
        """The server's :class:`~baatcheet.sio.Socket` for this client: rooms, data, handshake.

        Raises:
            LookupError: The client is not connected to this namespace.
        """
        engine = self.client.engine
        session = self.server.engine.sessions.get(EngineSid(engine.sid or "")) if engine else None
        handler = session.handler if session is not None else None
        socket = handler.sockets.get(self.socket.namespace) if isinstance(handler, Client) else None
        if socket is None:
            raise LookupError(f"{self!r} is not connected to {self.socket.namespace}")
        return socket

    @property
    def rooms(self) -> set[Room]:
        """The rooms the server put this socket in (its own id-room included)."""
        return self.server_socket.rooms

    # -- receiving -------------------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedEvent]:
        """Every event the server sent to this socket, in order, as ``(name, args)``."""
        return self._log.received

    # ``timeout`` is a test harness deadline: on expiry it reports what did arrive.
    async def next_event(self, name: str, *, timeout: float = 5.0) -> list[Any]:  # noqa: ASYNC109
        """The arguments of the next ``name`` event not yet returned (waits for it).

        Also ``disconnect`` (its reason) and ``connect``.

        Raises:
            AssertionError: Nothing came within ``timeout`` seconds.
        """
        return await self._log.next_event(name, timeout=timeout)

    def on(self, event: str, handler: H) -> H:
        """Answer the server's ``emit_with_ack(event)``: the handler's return is the ack."""
        return self.socket.on(event, handler)

    # -- sending ---------------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the server."""
        self.socket.emit(event, *args)

    # ``timeout`` bounds the wait for the answer, as the real client's does.
    async def emit_with_ack(
        self,
        event: str,
        *args: Any,
        timeout: float | None = 5.0,  # noqa: ASYNC109
    ) -> list[Any]:
        """Send ``event`` and return the server's acknowledgement (its arguments).

        Raises:
            AckTimeoutError: No answer within ``timeout`` seconds.
            SocketClosedError: The socket was disconnected first.
        """
        return await self.socket.emit_with_ack(event, *args, timeout=timeout)

    # -- more namespaces, leaving ----------------------------------------------------------

    async def of(self, namespace: str, *, auth: Auth = None) -> TestClient:
        """Connect another namespace on the same connection (``manager.socket(nsp)``).

        Raises:
            ConnectRejected: The namespace's middleware refused it.
        """
        other = TestClient(self.server, self.client, self.client.of(namespace, auth=auth))
        await other.socket.connect()
        return other

    async def disconnect(self) -> None:
        """Leave the namespace; the last namespace to leave closes the connection."""
        await self.socket.disconnect()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.disconnect()


async def connect_test_client(
    server: Server,
    namespace: str = "/",
    auth: Auth = None,
    *,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    address: tuple[str, int] = ("127.0.0.1", 0),
    timeout: float = 5.0,  # noqa: ASYNC109
) -> TestClient:
    """Connect an in-memory client to ``server`` (started or not) and return it.

    Args:
        server: The server under test; it needs no port: ``start()`` is optional.
        namespace: The namespace to connect to.
        auth: The CONNECT payload (``socket.handshake.auth``), or a function giving it.
        headers: Request headers the server sees (``socket.handshake.headers``).
        query: Query parameters the server sees (``socket.handshake.query``).
        address: The client address the server sees (``socket.handshake.address``).
        timeout: Seconds the connection may take.

    Raises:
        ConnectRejected: A middleware refused: ``message`` and ``data`` are its
            ``connect_error``.
        ConnectionFailedError: The server refused the handshake (origin check,
            ``allow_request``, shutting down).
    """
    settings = server.settings
    engine = server.engine

    def memory(name: str, target: TransportTarget) -> Transport:
        del name
        return MemoryTransport(engine, target, address)

    client = SocketIOClient(
        _URL,
        namespaces=[namespace],
        auth=auth,
        transports=["websocket"],
        path=settings.socketio_path,
        query=query,
        headers=headers,
        reconnection=False,
        timeout=timeout,
        transport_factory=memory,
    )
    test_client = TestClient(server, client, client.socket)
    await client.connect()
    return test_client
