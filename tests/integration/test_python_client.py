"""baatcheet.client against Baatcheet's own server, over real sockets.

Each transport setup the JS client uses is exercised: WebSocket only, long-polling only,
and polling upgraded to WebSocket (the default).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from baatcheet.client import (
    ConnectionFailedError,
    DisconnectReason,
    ManagerEvent,
    SocketIOClient,
    Transport,
    TransportTarget,
    default_transport,
)
from baatcheet.errors import AckTimeoutError, ConnectRejected, SocketClosedError
from baatcheet.sio import Namespace, Server, Socket
from support.factories import ServerFactory
from support.ports import free_port
from support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(60)

TRANSPORTS = [["websocket"], ["polling"], ["polling", "websocket"]]
QUICK_RETRY: dict[str, Any] = {
    "reconnection_delay": 0.05,
    "reconnection_delay_max": 0.2,
    "randomization_factor": 0,
}


def install(server: Server) -> None:
    """Handlers every test here talks to."""

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda *args: args)
        socket.on("kick", socket.disconnect)
        socket.on("auth", lambda: socket.handshake.auth)
        socket.on("engine", lambda: (socket.client.session.sid, socket.client.session.transport))
        socket.on("tell", socket.emit)

        async def ask(event: str, *args: Any) -> Any:
            try:
                (answer,) = await socket.emit_with_ack(event, *args, timeout=0.3)
            except AckTimeoutError:
                return "no answer"
            return answer

        socket.on("ask", ask)

    chat: Namespace = server.of("/chat")

    @chat.use
    def require_secret(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectRejected("invalid token", {"code": "invalid_token"})

    @chat.on("connection")
    def on_chat(socket: Socket) -> None:
        socket.emit("welcome", b"\x00\x01\xff")
        socket.on("echo", lambda *args: args)
        socket.on("engine", lambda: (socket.client.session.sid, socket.client.session.transport))


@pytest.fixture
async def server(running_server: ServerFactory) -> Server:
    started: Server = await running_server()
    install(started)
    return started


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., SocketIOClient]]:
    """Makes clients; every one is disconnected after the test."""
    made: list[SocketIOClient] = []

    def make(url: str, **options: Any) -> SocketIOClient:
        options.setdefault("reconnection", False)
        client = SocketIOClient(url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.disconnect()


def url_of(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize("transports", TRANSPORTS, ids="+".join)
async def test_emit_with_ack_round_trips_text_numbers_and_nested_binary(
    server: Server, clients: Callable[..., SocketIOClient], transports: list[str]
) -> None:
    client = clients(url_of(server), transports=transports)
    await client.connect()
    args = ["héllo", 42, {"raw": b"\x00\xfe", "list": [1, b"x"]}, None]
    assert await client.emit_with_ack("echo", *args) == args


@pytest.mark.parametrize("transports", TRANSPORTS, ids="+".join)
async def test_the_server_asks_and_the_clients_handler_return_value_is_the_answer(
    server: Server, clients: Callable[..., SocketIOClient], transports: list[str]
) -> None:
    client = clients(url_of(server), transports=transports)

    @client.on("double")
    async def double(value: int) -> int:
        await asyncio.sleep(0)
        return value * 2

    await client.connect()
    assert await client.emit_with_ack("ask", "double", 21) == [42]
    assert await client.emit_with_ack("ask", "nobody handles this") == ["no answer"]


async def test_server_events_reach_handlers_in_order_with_binary_as_bytes(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(url_of(server), transports=["websocket"])
    seen: list[Any] = []
    client.on("news", lambda *args: seen.append(args))
    await client.connect()
    for n in range(5):
        client.emit("tell", "news", n, b"\x01" * n)
    await client.emit_with_ack("echo")
    assert seen == [(n, b"\x01" * n) for n in range(5)]


async def test_emit_with_ack_raises_ack_timeout_when_no_answer_comes(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    release = asyncio.Event()

    async def held() -> str:
        await release.wait()
        return "late"

    server.on("connection", lambda socket: socket.on("held", held))
    client = clients(url_of(server), transports=["websocket"], ack_timeout=0.1)
    await client.connect()
    with pytest.raises(AckTimeoutError) as timed_out:
        await client.emit_with_ack("held")
    assert timed_out.value.timeout == 0.1
    release.set()
    assert await client.emit_with_ack("echo", "still fine", timeout=5) == ["still fine"]


async def test_a_pending_ack_fails_with_socket_closed_when_the_server_disconnects_it(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    release = asyncio.Event()

    async def held() -> None:
        await release.wait()

    server.on("connection", lambda socket: socket.on("held", held))
    client = clients(url_of(server), transports=["websocket"])
    await client.connect()
    pending = asyncio.ensure_future(client.emit_with_ack("held", timeout=5))
    await client.emit_with_ack("echo")
    client.emit("kick")
    with pytest.raises(SocketClosedError):
        await pending
    release.set()


async def test_namespaces_share_one_engine_io_connection(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(url_of(server), namespaces=["/", "/chat"], auth={"token": "secret"})
    welcome: asyncio.Queue[bytes] = asyncio.Queue()
    chat = client.of("/chat")
    chat.on("welcome", welcome.put_nowait)
    await client.connect()
    assert await asyncio.wait_for(welcome.get(), 5) == b"\x00\x01\xff"
    main_sid, _ = await client.emit_with_ack("engine")
    chat_sid, _ = await chat.emit_with_ack("engine")
    assert client.engine is not None
    assert main_sid == chat_sid == client.engine.sid
    assert chat.id != client.sid


async def test_a_refused_namespace_raises_connect_rejected_with_message_and_data(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(f"{url_of(server)}/chat", auth={"token": "wrong"})
    errors: list[BaseException] = []
    client.on("connect_error", errors.append)
    with pytest.raises(ConnectRejected) as refused:
        await client.connect()
    assert (refused.value.message, refused.value.data) == (
        "invalid token",
        {"code": "invalid_token"},
    )
    assert errors == [refused.value]
    assert not client.connected
    assert client.engine is None


async def test_a_namespace_added_later_connects_on_the_open_connection(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(url_of(server), transports=["websocket"])
    await client.connect()
    engine = client.engine
    chat = client.of("/chat", auth={"token": "secret"})
    await chat.connect()
    assert client.engine is engine
    assert await chat.emit_with_ack("echo", "in chat") == ["in chat"]
    await chat.disconnect()
    assert client.connected


async def test_auth_can_be_a_function_called_for_every_connection(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    async def fresh_token() -> dict[str, str]:
        return {"token": "minted"}

    client = clients(url_of(server), auth=fresh_token)
    await client.connect()
    assert await client.emit_with_ack("auth") == [{"token": "minted"}]


async def test_polling_upgrades_to_websocket_without_losing_or_reordering_messages(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(url_of(server))
    upgraded = asyncio.Event()
    client.on_manager(ManagerEvent.UPGRADE, lambda transport: upgraded.set())
    await client.connect()
    assert client.transport in ("polling", "websocket")
    answers = await asyncio.gather(*(client.emit_with_ack("echo", n) for n in range(50)))
    assert answers == [[n] for n in range(50)]
    await asyncio.wait_for(upgraded.wait(), 5)
    assert client.transport == "websocket"
    assert (await client.emit_with_ack("engine"))[1] == "websocket"


async def test_long_polling_splits_a_burst_into_posts_under_the_servers_max_payload(
    running_server: ServerFactory, clients: Callable[..., SocketIOClient]
) -> None:
    server: Server = await running_server(max_payload_bytes=2_000)
    install(server)
    client = clients(url_of(server), transports=["polling"])
    await client.connect()
    chunk = "x" * 600
    answers = await asyncio.gather(*(client.emit_with_ack("echo", n, chunk) for n in range(20)))
    assert answers == [[n, chunk] for n in range(20)]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids="+".join)
async def test_the_client_answers_pings_and_outlives_many_heartbeats(
    running_server: ServerFactory, clients: Callable[..., SocketIOClient], transports: list[str]
) -> None:
    server: Server = await running_server(ping_interval_ms=50, ping_timeout_ms=100)
    install(server)
    client = clients(url_of(server), transports=transports)
    pings: asyncio.Queue[None] = asyncio.Queue()
    client.on_manager("ping", lambda: pings.put_nowait(None))
    await client.connect()
    for _ in range(5):
        await asyncio.wait_for(pings.get(), 2)
    assert client.connected
    assert await client.emit_with_ack("echo", transports) == [transports]


async def test_a_server_that_stops_pinging_is_declared_dead_with_ping_timeout(
    clients: Callable[..., SocketIOClient],
) -> None:
    async def silent_after_connect(ws: ServerConnection) -> None:
        await ws.send('0{"sid":"s","upgrades":[],"pingInterval":100,"pingTimeout":100}')
        async for message in ws:
            if message == "40":
                await ws.send('40{"sid":"socket"}')

    async with serve(silent_after_connect, "127.0.0.1", 0) as fake:
        port = fake.sockets[0].getsockname()[1]
        client = clients(f"http://127.0.0.1:{port}", transports=["websocket"])
        reasons: asyncio.Queue[str] = asyncio.Queue()
        client.on("disconnect", reasons.put_nowait)
        await client.connect()
        assert await asyncio.wait_for(reasons.get(), 2) == DisconnectReason.PING_TIMEOUT


async def test_disconnect_reasons_are_the_js_clients_on_both_sides(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    server_reasons: asyncio.Queue[str] = asyncio.Queue()
    server.on("connection", lambda socket: socket.on("disconnect", server_reasons.put_nowait))
    kicked = clients(url_of(server), transports=["websocket"])
    kicked_reasons: asyncio.Queue[str] = asyncio.Queue()
    kicked.on("disconnect", kicked_reasons.put_nowait)
    await kicked.connect()
    kicked.emit("kick")
    assert await asyncio.wait_for(kicked_reasons.get(), 5) == "io server disconnect"
    assert await asyncio.wait_for(server_reasons.get(), 5) == "server namespace disconnect"

    leaving = clients(url_of(server), transports=["polling"])
    leaving_reasons: asyncio.Queue[str] = asyncio.Queue()
    leaving.on("disconnect", leaving_reasons.put_nowait)
    await leaving.connect()
    await leaving.disconnect()
    assert leaving_reasons.get_nowait() == "io client disconnect"
    assert await asyncio.wait_for(server_reasons.get(), 5) == "client namespace disconnect"


async def test_a_polling_connection_cut_by_the_network_is_a_transport_error(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    async with TcpProxy(server.port) as proxy:
        client = clients(f"http://127.0.0.1:{proxy.port}", transports=["polling"])
        reasons: asyncio.Queue[str] = asyncio.Queue()
        client.on("disconnect", reasons.put_nowait)
        await client.connect()
        await proxy.cut()
        assert await asyncio.wait_for(reasons.get(), 5) == DisconnectReason.TRANSPORT_ERROR


async def test_connecting_to_a_closed_port_fails_with_connection_failed(
    clients: Callable[..., SocketIOClient],
) -> None:
    for transports in (["websocket"], ["polling"]):
        client = clients(f"http://127.0.0.1:{free_port()}", transports=transports)
        with pytest.raises(ConnectionFailedError, match=r"127\.0\.0\.1"):
            await client.connect(timeout=5)


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids="+".join)
async def test_the_client_reconnects_every_namespace_after_the_server_restarts(
    running_server: ServerFactory, clients: Callable[..., SocketIOClient], transports: list[str]
) -> None:
    first: Server = await running_server()
    install(first)
    port = first.port
    asked: list[str] = []

    def auth() -> dict[str, str]:
        asked.append("token")
        return {"token": "secret"}

    client = clients(
        f"http://127.0.0.1:{port}",
        namespaces=["/", "/chat"],
        auth=auth,
        transports=transports,
        reconnection=True,
        **QUICK_RETRY,
    )
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    client.on("disconnect", lambda reason: events.put_nowait(("disconnect", reason)))
    client.on("connect", lambda: events.put_nowait(("connect", client.sid)))
    client.on_manager("reconnect", lambda attempts: events.put_nowait(("reconnect", attempts)))
    chat = client.of("/chat")
    await client.connect()
    assert (await events.get())[0] == "connect"
    before = client.sid

    await first.shutdown()
    kind, reason = await asyncio.wait_for(events.get(), 5)
    assert kind == "disconnect"
    assert reason in (DisconnectReason.TRANSPORT_CLOSE, DisconnectReason.TRANSPORT_ERROR)
    buffered = asyncio.ensure_future(client.emit_with_ack("echo", "sent while away", timeout=10))

    second: Server = await running_server(port=port)
    install(second)
    kind, attempts = await asyncio.wait_for(events.get(), 10)
    assert (kind, attempts >= 1) == ("reconnect", True)
    kind, after = await asyncio.wait_for(events.get(), 5)
    assert kind == "connect"
    assert after != before
    assert await buffered == ["sent while away"]
    assert await chat.emit_with_ack("echo", "chat again") == ["chat again"]
    assert not client.socket.recovered  # Baatcheet keeps no session state to recover
    assert len(asked) == 4  # each namespace asked for its auth at each connection
    assert len(second.main.sockets) == 1


async def test_reconnection_gives_up_after_its_attempts(
    running_server: ServerFactory, clients: Callable[..., SocketIOClient]
) -> None:
    server: Server = await running_server()
    install(server)
    client = clients(url_of(server), reconnection=True, reconnection_attempts=2, **QUICK_RETRY)
    seen: asyncio.Queue[str] = asyncio.Queue()
    for event in ("reconnect_attempt", "reconnect_error", "reconnect_failed"):
        client.on_manager(event, lambda *args, name=event: seen.put_nowait(name))
    await client.connect()
    await server.shutdown()
    names = [await asyncio.wait_for(seen.get(), 5) for _ in range(5)]
    assert names == [
        "reconnect_attempt",
        "reconnect_error",
        "reconnect_attempt",
        "reconnect_error",
        "reconnect_failed",
    ]


async def test_a_failing_handler_is_logged_and_the_connection_carries_on(
    server: Server, clients: Callable[..., SocketIOClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = clients(url_of(server), transports=["websocket"])

    @client.on("boom")
    def boom() -> None:
        raise RuntimeError("handler bug")

    await client.connect()
    client.emit("tell", "boom")
    assert await client.emit_with_ack("echo", 1) == [1]
    assert "handler for 'boom' on / failed" in caplog.text


async def test_without_upgrade_a_polling_session_stays_on_polling(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(url_of(server), upgrade=False)
    pinged = asyncio.Event()
    client.on_manager("ping", pinged.set)
    await client.connect()
    assert await client.emit_with_ack("echo", 1) == [1]
    assert client.transport == "polling"
    assert (await client.emit_with_ack("engine"))[1] == "polling"


async def test_try_all_transports_falls_back_when_the_first_cannot_open(
    server: Server, clients: Callable[..., SocketIOClient]
) -> None:
    tried: list[str] = []

    def blocked_websocket(name: str, target: TransportTarget) -> Transport:
        tried.append(name)
        if name == "websocket":
            target = replace(target, url=f"http://127.0.0.1:{free_port()}/socket.io/")
        return default_transport(name, target)

    strict = clients(
        url_of(server), transports=["websocket", "polling"], transport_factory=blocked_websocket
    )
    with pytest.raises(ConnectionFailedError):
        await strict.connect(timeout=5)
    assert tried == ["websocket"]

    tried.clear()
    lenient = clients(
        url_of(server),
        transports=["websocket", "polling"],
        transport_factory=blocked_websocket,
        try_all_transports=True,
    )
    await lenient.connect(timeout=5)
    assert tried[:2] == ["websocket", "polling"]  # then maybe a (blocked) upgrade probe
    assert lenient.transport == "polling"
    assert await lenient.emit_with_ack("echo", "via polling") == ["via polling"]


async def test_a_socket_connected_again_by_hand_is_reconnected_after_a_later_loss(
    running_server: ServerFactory, clients: Callable[..., SocketIOClient]
) -> None:
    first: Server = await running_server()
    install(first)
    port = first.port
    client = clients(url_of(first), transports=["websocket"], reconnection=True, **QUICK_RETRY)
    reconnected = asyncio.Event()
    client.on_manager("reconnect", lambda attempts: reconnected.set())
    reasons: asyncio.Queue[str] = asyncio.Queue()
    client.on("disconnect", reasons.put_nowait)
    closed: asyncio.Queue[str] = asyncio.Queue()
    client.on_manager("close", closed.put_nowait)
    await client.connect()
    client.emit("kick")
    assert await asyncio.wait_for(reasons.get(), 5) == DisconnectReason.IO_SERVER_DISCONNECT
    # Its last namespace gone, the client closed the connection and stopped reconnecting.
    assert await asyncio.wait_for(closed.get(), 5) == DisconnectReason.FORCED_CLOSE
    await client.socket.connect()
    await first.shutdown()
    assert await asyncio.wait_for(reasons.get(), 5) == DisconnectReason.TRANSPORT_CLOSE
    second: Server = await running_server(port=port)
    install(second)
    await asyncio.wait_for(reconnected.wait(), 10)
    assert await client.emit_with_ack("echo", "back") == ["back"]
