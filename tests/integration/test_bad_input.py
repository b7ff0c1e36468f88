"""A misbehaving client loses only its own connection, with a reason; others carry on."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsClient, JsDriver

pytestmark = pytest.mark.timeout(30)

MAX_PAYLOAD = 10_000


class Bystander:
    """A server with one well-behaved client watching while another misbehaves."""

    def __init__(self, server: Server, reasons: asyncio.Queue[str], healthy: JsClient) -> None:
        self.server = server
        self.reasons = reasons
        self.healthy = healthy

    async def assert_unharmed(self) -> None:
        # The ack travels after anything sent before it, so it doubles as the marker: no
        # disconnect reported by then means none happened.
        assert await self.healthy.emit_with_ack("echo", "fine") == ["fine"]
        assert [r for r in self.healthy.history if r.get("kind") == "disconnect"] == []
        assert len(self.server.main.sockets) == 1


@pytest.fixture
async def bystander(js: JsDriver, running_server: ServerFactory) -> Bystander:
    server: Server = await running_server(max_payload_bytes=MAX_PAYLOAD)
    reasons: asyncio.Queue[str] = asyncio.Queue()

    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda value: value)
        socket.on("disconnect", reasons.put_nowait)

    server.on("connection", on_connection)

    healthy = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await healthy.wait("connect")
    return Bystander(server, reasons, healthy)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("4{not a socket.io packet", id="bad-socketio-json"),
        pytest.param("49/", id="unknown-socketio-type"),
        pytest.param("42[]", id="event-without-name"),
        pytest.param("9", id="unknown-engineio-type"),
    ],
)
async def test_a_malformed_packet_closes_only_that_connection_with_parse_error(
    js: JsDriver, bystander: Bystander, transport: str, raw: str
) -> None:
    url = f"http://127.0.0.1:{bystander.server.port}"
    culprit = await js.connect(url, transports=[transport], reconnection=False)
    await culprit.wait("connect")
    await culprit.send_raw(raw)
    assert await asyncio.wait_for(bystander.reasons.get(), 5) == "parse error"
    assert (await culprit.wait("disconnect"))["reason"] == "transport close"
    await bystander.assert_unharmed()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_an_oversized_message_closes_only_that_connection(
    js: JsDriver, bystander: Bystander, transport: str
) -> None:
    url = f"http://127.0.0.1:{bystander.server.port}"
    culprit = await js.connect(url, transports=[transport], reconnection=False)
    await culprit.wait("connect")
    await culprit.emit("echo", "x" * (MAX_PAYLOAD * 2))
    assert await asyncio.wait_for(bystander.reasons.get(), 5) == "payload too large"
    assert (await culprit.wait("disconnect"))["reason"] in ("transport close", "transport error")
    await bystander.assert_unharmed()


async def test_a_message_just_under_the_limit_is_accepted(
    js: JsDriver, bystander: Bystander
) -> None:
    text = "y" * (MAX_PAYLOAD - 100)
    assert await bystander.healthy.emit_with_ack("echo", text) == [text]


async def test_an_oversized_websocket_message_is_refused_with_close_code_1009(
    bystander: Bystander,
) -> None:
    url = f"ws://127.0.0.1:{bystander.server.port}/socket.io/?EIO=4&transport=websocket"
    async with connect(url, max_size=None) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40")
        assert str(await ws.recv()).startswith("40")
        await ws.send("4" + "z" * (MAX_PAYLOAD + 1))
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1009
    assert await asyncio.wait_for(bystander.reasons.get(), 5) == "payload too large"
    await bystander.assert_unharmed()


async def test_a_websocket_sending_a_broken_packet_is_closed_with_a_readable_reason(
    bystander: Bystander,
) -> None:
    url = f"ws://127.0.0.1:{bystander.server.port}/socket.io/?EIO=4&transport=websocket"
    async with connect(url) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40")
        assert str(await ws.recv()).startswith("40")
        await ws.send('42["unterminated')
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1008
    assert ws.close_reason == "parse error"
    await bystander.assert_unharmed()
