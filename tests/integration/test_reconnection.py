"""The official client reconnects on its own after the connection or the server goes away."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)

QUICK_RETRY: dict[str, Any] = {
    "reconnection_delay": 50,
    "reconnection_delay_max": 200,
    "randomization_factor": 0,
}


def _install_handlers(server: Server, reasons: asyncio.Queue[str] | None = None) -> None:
    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda value: value)
        if reasons is not None:
            socket.on("disconnect", reasons.put_nowait)

    server.on("connection", on_connection)


# A polling client between two GETs cannot be handed the CLOSE packet, so it learns of the
# shutdown from its next GET being refused: "transport error" instead of "transport close".
@pytest.mark.parametrize(
    ("transport", "client_reasons"),
    [("websocket", {"transport close"}), ("polling", {"transport close", "transport error"})],
)
async def test_a_client_reconnects_to_a_new_server_started_on_the_same_port(
    js: JsDriver, running_server: ServerFactory, transport: str, client_reasons: set[str]
) -> None:
    first: Server = await running_server()
    reasons: asyncio.Queue[str] = asyncio.Queue()
    _install_handlers(first, reasons)
    port = first.port
    client = await js.connect(f"http://127.0.0.1:{port}", transports=[transport], **QUICK_RETRY)
    before = await client.wait("connect")
    await first.shutdown()
    assert await asyncio.wait_for(reasons.get(), 5) == "server shutting down"
    assert (await client.wait("disconnect"))["reason"] in client_reasons
    await client.wait("reconnect_attempt")
    second: Server = await running_server(port=port)
    _install_handlers(second)
    await client.wait("reconnect")
    after = await client.wait("connect")
    assert after["sid"] != before["sid"]
    assert await client.emit_with_ack("echo", "back again") == ["back again"]
    assert len(second.main.sockets) == 1


async def test_reconnection_attempts_fail_while_no_server_listens_and_succeed_after(
    js: JsDriver, running_server: ServerFactory
) -> None:
    first: Server = await running_server()
    port = first.port
    client = await js.connect(f"http://127.0.0.1:{port}", transports=["websocket"], **QUICK_RETRY)
    await client.wait("connect")
    await first.shutdown()
    await client.wait("reconnect_error")
    await client.wait("reconnect_error")
    second: Server = await running_server(port=port)
    _install_handlers(second)
    await client.wait("connect")
    assert await client.emit_with_ack("echo", 1) == [1]


async def test_a_dropped_websocket_is_a_transport_close_on_both_sides_then_the_client_returns(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    reasons: asyncio.Queue[str] = asyncio.Queue()
    _install_handlers(server, reasons)
    client = await js.connect(
        f"http://127.0.0.1:{server.port}", transports=["websocket"], **QUICK_RETRY
    )
    before = await client.wait("connect")
    await client.drop_transport()
    assert (await client.wait("disconnect"))["reason"] == "transport close"
    assert await asyncio.wait_for(reasons.get(), 5) in ("transport close", "transport error")
    after = await client.wait("connect")
    assert after["sid"] != before["sid"]
    assert list(server.main.sockets) == [after["sid"]]


async def test_closing_the_whole_connection_from_the_server_is_final_as_in_node(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    reasons: asyncio.Queue[str] = asyncio.Queue()
    _install_handlers(server, reasons)
    client = await js.connect(
        f"http://127.0.0.1:{server.port}", transports=["websocket"], **QUICK_RETRY
    )
    await client.wait("connect")
    server.disconnect_sockets(close=True)
    assert await asyncio.wait_for(reasons.get(), 5) == "server namespace disconnect"
    assert (await client.wait("disconnect"))["reason"] == "io server disconnect"
    await client.assert_silent("reconnect_attempt")
    assert not server.engine.sessions
