"""The official client reaches the server over each transport and across the upgrade."""

from __future__ import annotations

from typing import Any

import pytest

from support.jsclient import JsDriver

from baatcheet.sio import Server, Socket

pytestmark = pytest.mark.timeout(30)

ServerFactory = Any


async def _echo_server(running_server: ServerFactory) -> Server:
    server: Server = await running_server()

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda *args: args)

    return server


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_client_limited_to_one_transport_connects_and_round_trips_an_ack(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server = await _echo_server(running_server)
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=[transport])
    connected = await client.wait("connect")
    assert connected["transport"] == transport
    assert await client.emit_with_ack("echo", "héllo", {"n": 1}) == ["héllo", {"n": 1}]
    assert (await client.state())["transport"] == transport


async def test_client_starting_on_polling_upgrades_to_websocket_and_keeps_its_socket(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server = await _echo_server(running_server)
    client = await js.connect(f"http://127.0.0.1:{server.port}")
    connected = await client.wait("connect")
    assert connected["transport"] == "polling"
    assert (await client.wait("upgrade"))["transport"] == "websocket"
    assert (await client.state())["sid"] == connected["sid"]
    assert await client.emit_with_ack("echo", "after upgrade") == ["after upgrade"]


async def test_events_emitted_by_the_server_during_the_upgrade_all_arrive_in_order(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        for index in range(50):
            socket.emit("tick", index)

    client = await js.connect(f"http://127.0.0.1:{server.port}")
    await client.wait("connect")
    received = [(await client.next_event("tick"))[0] for _ in range(50)]
    assert received == list(range(50))
    assert (await client.wait("upgrade"))["transport"] == "websocket"


async def test_closing_the_engine_from_the_client_is_seen_by_the_server_as_transport_close(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    reasons: list[str] = []
    import asyncio

    gone = asyncio.Event()

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        def on_disconnect(reason: str) -> None:
            reasons.append(reason)
            gone.set()

        socket.on("disconnect", on_disconnect)

    client = await js.connect(
        f"http://127.0.0.1:{server.port}", transports=["websocket"], reconnection=False
    )
    await client.wait("connect")
    await client.close_engine()
    await asyncio.wait_for(gone.wait(), 5)
    assert reasons == ["transport close"]
