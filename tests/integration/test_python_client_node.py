"""baatcheet.client against Node's own socket.io 4.8 server (tests/js/client_server.mjs).

If the Baatcheet-server tests pass and one of these fails, the client has learned a
Baatcheet habit that the reference server does not share.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from baatcheet.client import DisconnectReason, SocketIOClient
from baatcheet.errors import AckTimeoutError, ConnectRejected
from support.paths import JS_DIR, SETUP_HINT

pytestmark = pytest.mark.timeout(60)

QUICK_RETRY: dict[str, Any] = {
    "reconnection_delay": 0.05,
    "reconnection_delay_max": 0.2,
    "randomization_factor": 0,
}


class NodeServer:
    """``node client_server.mjs [port]`` as a subprocess; stop() drops every connection."""

    def __init__(self) -> None:
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        node = shutil.which("node")
        assert node is not None, f"node is not on PATH: {SETUP_HINT}"
        self._proc = await asyncio.create_subprocess_exec(
            node,
            "client_server.mjs",
            str(port),
            cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), 15)
        assert line, "client_server.mjs exited before listening"
        self.port = json.loads(line)["port"]

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
            await asyncio.wait_for(proc.wait(), 10)


@pytest.fixture
async def node() -> AsyncIterator[NodeServer]:
    server = NodeServer()
    await server.start()
    yield server
    await server.stop()


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


@pytest.mark.parametrize(
    "transports", [["websocket"], ["polling"], ["polling", "websocket"]], ids="+".join
)
async def test_acks_both_ways_with_binary_on_every_transport(
    node: NodeServer, clients: Callable[..., SocketIOClient], transports: list[str]
) -> None:
    client = clients(node.url, transports=transports)
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    # With connection state recovery on, Node appends each event's offset as a last argument.
    client.on("answer", lambda answer, _offset: answers.put_nowait(answer))
    client.on("double", lambda value: value * 2)
    await client.connect()
    args = ["héllo", {"raw": b"\x00\xfe", "list": [1, b"x"]}, None]
    assert await client.emit_with_ack("echo", *args) == args
    client.emit("ask", {"event": "double", "args": [21], "timeout": 2000})
    assert await asyncio.wait_for(answers.get(), 5) == {"args": [42]}
    client.emit("ask", {"event": "unanswered", "args": [], "timeout": 100})
    assert await asyncio.wait_for(answers.get(), 5) == {"error": "operation has timed out"}


async def test_an_unanswered_emit_raises_ack_timeout(
    node: NodeServer, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(node.url, transports=["websocket"])
    await client.connect()
    with pytest.raises(AckTimeoutError):
        await client.emit_with_ack("no such handler", timeout=0.2)


async def test_auth_reaches_the_middleware_and_a_refusal_carries_message_and_data(
    node: NodeServer, clients: Callable[..., SocketIOClient]
) -> None:
    refused = clients(f"{node.url}/chat", auth={"token": "wrong"})
    with pytest.raises(ConnectRejected) as rejection:
        await refused.connect()
    assert rejection.value.message == "invalid token"
    assert rejection.value.data == {"code": "invalid_token"}

    client = clients(node.url, namespaces=["/", "/chat"], auth={"token": "secret"})
    welcome: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    chat = client.of("/chat")
    chat.on("welcome", lambda *args: welcome.put_nowait(args))
    await client.connect()
    info, blob, _offset = await asyncio.wait_for(welcome.get(), 5)
    assert info == {"sid": chat.id}
    assert blob == b"\x00\x01\x02\xff"
    assert (await client.emit_with_ack("state"))[0]["auth"] == {"token": "secret"}
    assert await chat.emit_with_ack("echo", b"\x07") == [b"\x07"]


async def test_polling_upgrades_to_websocket_as_the_server_sees_it(
    node: NodeServer, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(node.url)
    upgraded = asyncio.Event()
    client.on_manager("upgrade", lambda transport: upgraded.set())
    await client.connect()
    await asyncio.wait_for(upgraded.wait(), 5)
    (state,) = await client.emit_with_ack("state")
    assert state["transport"] == "websocket"
    assert client.transport == "websocket"


async def test_the_client_keeps_answering_the_servers_pings(
    node: NodeServer, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(node.url, transports=["polling"])
    pings: asyncio.Queue[None] = asyncio.Queue()
    client.on_manager("ping", lambda: pings.put_nowait(None))
    await client.connect()
    for _ in range(3):  # 400 ms apart; Node gives 300 ms to answer each
        await asyncio.wait_for(pings.get(), 2)
    assert await client.emit_with_ack("echo", "alive") == ["alive"]


async def test_a_server_side_disconnect_is_final(
    node: NodeServer, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(node.url, transports=["websocket"], reconnection=True, **QUICK_RETRY)
    reasons: asyncio.Queue[str] = asyncio.Queue()
    client.on("disconnect", reasons.put_nowait)
    await client.connect()
    client.emit("kick")
    assert await asyncio.wait_for(reasons.get(), 5) == DisconnectReason.IO_SERVER_DISCONNECT
    await asyncio.sleep(0.3)  # several retry delays: nothing may reconnect
    assert not client.connected
    assert client.engine is None


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids="+".join)
async def test_connection_state_recovery_restores_the_session_and_replays_missed_events(
    node: NodeServer, clients: Callable[..., SocketIOClient], transports: list[str]
) -> None:
    client = clients(node.url, transports=transports, reconnection=True, **QUICK_RETRY)
    news: asyncio.Queue[list[Any]] = asyncio.Queue()
    reasons: asyncio.Queue[str] = asyncio.Queue()
    connects: asyncio.Queue[None] = asyncio.Queue()
    client.on("news", lambda *args: news.put_nowait(list(args)))
    client.on("disconnect", reasons.put_nowait)
    client.on("connect", lambda: connects.put_nowait(None))
    await client.connect()
    await connects.get()
    first_id = client.sid
    client.emit("broadcast", "before")
    text, offset = await asyncio.wait_for(news.get(), 5)
    assert (text, isinstance(offset, str)) == ("before", True)  # the offset rides along

    client.emit("missed_while_away", "during")
    assert await asyncio.wait_for(reasons.get(), 5) == DisconnectReason.TRANSPORT_CLOSE
    await asyncio.wait_for(connects.get(), 5)
    assert client.socket.recovered
    assert client.sid == first_id
    assert (await asyncio.wait_for(news.get(), 5))[0] == "during"
    (state,) = await client.emit_with_ack("state")
    assert state["recovered"] is True


async def test_the_client_reconnects_after_the_server_restarts_without_its_state(
    node: NodeServer, clients: Callable[..., SocketIOClient]
) -> None:
    client = clients(
        node.url,
        namespaces=["/", "/chat"],
        auth={"token": "secret"},
        reconnection=True,
        **QUICK_RETRY,
    )
    reasons: asyncio.Queue[str] = asyncio.Queue()
    reconnects: asyncio.Queue[int] = asyncio.Queue()
    client.on("disconnect", reasons.put_nowait)
    client.on_manager("reconnect", reconnects.put_nowait)
    await client.connect()
    first_id = client.sid
    port = node.port

    await node.stop()
    # A stopped process's sockets end with a FIN (close) or, with bytes still unread, an
    # RST (error); the official client names the two the same way.
    assert await asyncio.wait_for(reasons.get(), 5) in (
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.TRANSPORT_ERROR,
    )
    await node.start(port)
    assert await asyncio.wait_for(reconnects.get(), 10) >= 1
    chat = client.of("/chat")
    assert await chat.emit_with_ack("echo", "back") == ["back"]
    assert await client.emit_with_ack("echo", "again") == ["again"]
    assert client.sid != first_id
    assert not client.socket.recovered  # a new process has no session to restore
