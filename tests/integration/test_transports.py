"""The official client reaches the server over each transport and across the upgrade."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect

from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)


async def _echo_server(running_server: ServerFactory) -> Server:
    server: Server = await running_server()

    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda *args: args)

    server.on("connection", on_connection)

    return server


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_client_limited_to_one_transport_connects_and_round_trips_an_ack(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server = await _echo_server(running_server)
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=[transport])
    connected = await client.wait("connect")
    assert connected["transport"] == transport
    assert await client.emit_with_ack("echo", "héllo", {"n": 1}) == ["héllo", {"n": 1}]
    assert (await client.state())["transport"] == transport


async def test_a_client_starting_on_polling_upgrades_to_websocket_and_keeps_its_socket(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server = await _echo_server(running_server)
    client = await js.connect(f"http://127.0.0.1:{server.port}")
    connected = await client.wait("connect")
    assert (await client.wait("upgrade"))["transport"] == "websocket"
    assert (await client.state())["sid"] == connected["sid"]
    assert await client.emit_with_ack("echo", "after upgrade") == ["after upgrade"]


async def test_events_emitted_around_the_upgrade_all_arrive_in_order(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()

    def on_connection(socket: Socket) -> None:
        for index in range(50):
            socket.emit("tick", index)

        def more() -> None:
            for index in range(50, 100):
                socket.emit("tick", index)

        socket.on("more", more)

    server.on("connection", on_connection)

    client = await js.connect(f"http://127.0.0.1:{server.port}")
    await client.wait("connect")
    await client.emit("more")
    received = [(await client.next_event("tick"))[0] for _ in range(100)]
    assert received == list(range(100))
    assert (await client.wait("upgrade"))["transport"] == "websocket"


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_client_closing_its_connection_is_seen_by_the_server_as_transport_close(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server: Server = await running_server()
    reasons: asyncio.Queue[str] = asyncio.Queue()

    def on_connection(socket: Socket) -> None:
        socket.on("disconnect", reasons.put_nowait)

    server.on("connection", on_connection)

    client = await js.connect(
        f"http://127.0.0.1:{server.port}", transports=[transport], reconnection=False
    )
    await client.wait("connect")
    await client.close_engine()
    assert await asyncio.wait_for(reasons.get(), 5) == "transport close"
    assert (await client.wait("disconnect"))["reason"] == "forced close"
    assert not server.main.sockets


async def test_many_clients_on_mixed_transports_are_served_side_by_side(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server = await _echo_server(running_server)
    url = f"http://127.0.0.1:{server.port}"
    clients = [
        await js.connect(url, transports=[transport]) for transport in ["websocket", "polling"] * 5
    ]
    for client in clients:
        await client.wait("connect")
    answers = await asyncio.gather(
        *(client.emit_with_ack("echo", index) for index, client in enumerate(clients))
    )
    assert answers == [[index] for index in range(10)]
    assert len(server.main.sockets) == 10


async def test_a_poll_sent_after_the_probe_answer_is_released_so_the_upgrade_completes(
    running_server: ServerFactory,
) -> None:
    """Engine.IO upgrade race: the client may send one more GET before "3probe" reaches
    it, and it cannot send "5" until that GET returns. The server must answer that GET
    (NOOP) at once instead of holding it until the next ping, 25 s later."""
    server: Server = await running_server()
    base = f"http://127.0.0.1:{server.port}/socket.io/?EIO=4"
    async with httpx.AsyncClient(timeout=5) as http:
        opened = (await http.get(f"{base}&transport=polling")).text
        sid = json.loads(opened[1:])["sid"]
        polling = f"{base}&transport=polling&sid={sid}"
        async with connect(
            f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket&sid={sid}"
        ) as probe:
            await probe.send("2probe")
            assert await asyncio.wait_for(probe.recv(), 5) == "3probe"
            # The NOOP queued for the poll the client had open when it sent the probe.
            assert (await http.get(polling)).text == "6"
            # The racing poll, sent before the client saw "3probe": released at once too.
            assert (await asyncio.wait_for(http.get(polling), 2)).text == "6"
            await probe.send("5")
            await probe.send("40")
            connected = await asyncio.wait_for(probe.recv(), 5)
            assert isinstance(connected, str)
            assert connected.startswith("40{")
