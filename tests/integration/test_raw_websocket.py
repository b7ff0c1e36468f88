"""The demo's plain WebSocket echo ``/ws``: a welcome, then an echo receipt per message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from baatcheet.demo import WELCOME, mount_echo, receipt_for
from baatcheet.listener.websocket_route import WebSocketRoute
from baatcheet.sio import Server
from support.factories import ServerFactory

pytestmark = pytest.mark.timeout(30)


async def _echo_server(
    running_server: ServerFactory, **settings: Any
) -> tuple[Server, WebSocketRoute]:
    """A started server with the echo mounted, as ``baatcheet serve`` has it."""
    server: Server = await running_server(**settings)
    return server, mount_echo(server)


async def _recv(ws: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), 5)


async def test_a_new_connection_is_welcomed_and_every_message_gets_a_receipt(
    running_server: ServerFactory,
) -> None:
    server, _ = await _echo_server(running_server)
    async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        assert await _recv(ws) == WELCOME
        await ws.send("namaste")
        assert await _recv(ws) == "Server ne aapka message receive kar liya: namaste"
        await ws.send(b"\x00\x01\x02")
        assert await _recv(ws) == receipt_for(b"\x00\x01\x02")
        assert receipt_for(b"\x00\x01\x02").endswith("<3 bytes>")


async def test_the_endpoint_counts_its_open_connections(running_server: ServerFactory) -> None:
    server, echo = await _echo_server(running_server)
    url = f"ws://127.0.0.1:{server.port}/ws"
    async with connect(url) as first, connect(url) as second:
        await _recv(first)
        await _recv(second)
        assert echo.connections == 2
    async with connect(url) as third:
        await _recv(third)
        assert echo.connections == 1


async def test_an_origin_outside_the_allow_list_is_refused_with_403(
    running_server: ServerFactory,
) -> None:
    server, _ = await _echo_server(running_server, cors_origins=["https://chat.example"])
    url = f"ws://127.0.0.1:{server.port}/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin=Origin("https://evil.example")):
            pass
    assert refused.value.response.status_code == 403
    async with connect(url, origin=Origin("https://chat.example")) as ws:
        assert await _recv(ws) == WELCOME


async def test_an_oversized_message_closes_the_connection_with_1009(
    running_server: ServerFactory,
) -> None:
    server, _ = await _echo_server(running_server, max_payload_bytes=1000)
    async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        await _recv(ws)
        await ws.send("x" * 1001)
        with pytest.raises(ConnectionClosed):
            await _recv(ws)
    assert ws.close_code == 1009


async def test_an_unknown_websocket_path_is_answered_404(running_server: ServerFactory) -> None:
    server: Server = await running_server()
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://127.0.0.1:{server.port}/elsewhere"):
            pass
    assert refused.value.response.status_code == 404
