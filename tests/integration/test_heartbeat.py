"""The server pings; a client that stops answering is dropped, and only that client."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)

FAST_HEARTBEAT = {"ping_interval_ms": 200, "ping_timeout_ms": 200}


async def _server(running_server: ServerFactory) -> tuple[Server, asyncio.Queue[str]]:
    server: Server = await running_server(**FAST_HEARTBEAT)
    reasons: asyncio.Queue[str] = asyncio.Queue()

    def on_connection(socket: Socket) -> None:
        socket.on("disconnect", reasons.put_nowait)
        socket.on("echo", lambda value: value)

    server.on("connection", on_connection)

    return server, reasons


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_client_that_answers_pings_stays_connected_across_many_intervals(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server, reasons = await _server(running_server)
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=[transport])
    await client.wait("connect")
    for _ in range(4):
        await client.wait("ping", timeout=1)
    assert reasons.empty()
    assert (await client.state())["connected"] is True
    assert await client.emit_with_ack("echo", "alive") == ["alive"]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_client_that_stops_answering_pings_is_dropped_for_ping_timeout(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server, reasons = await _server(running_server)
    url = f"http://127.0.0.1:{server.port}"
    silent = await js.connect(url, transports=[transport], reconnection=False)
    healthy = await js.connect(url, transports=[transport])
    await silent.wait("connect")
    await healthy.wait("connect")
    await silent.wait("ping")
    await silent.stop_pong()
    assert await asyncio.wait_for(reasons.get(), 3) == "ping timeout"
    disconnect = await silent.wait("disconnect", timeout=3)
    assert disconnect["reason"] in ("transport close", "ping timeout")
    assert len(server.main.sockets) == 1
    await healthy.wait("ping", timeout=1)
    assert await healthy.emit_with_ack("echo", "still here") == ["still here"]
    assert reasons.empty()


async def test_a_silent_polling_session_is_gone_right_after_interval_plus_timeout(
    running_server: ServerFactory,
) -> None:
    # As the official Engine.IO suite checks: short heartbeats are timed exactly, not on
    # the coarse tick that batches production pings.
    server: Server = await running_server(ping_interval_ms=300, ping_timeout_ms=200)
    base = f"http://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=polling"
    async with httpx.AsyncClient() as http:
        opened = await http.get(base)
        sid = orjson.loads(opened.text[1:])["sid"]
        await asyncio.sleep(0.5 + 0.03)
        late = await http.get(f"{base}&sid={sid}")
    assert late.status_code == 400
    assert late.json()["message"] == "Session ID unknown"
