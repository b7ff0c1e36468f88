"""Options a deployment relies on: the allow_request hook, slow consumers, TLS (wss://).

TLS behind nginx instead is tested in test_deploy_nginx.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from baatcheet.engine.http import HttpRequest
from baatcheet.settings import Settings, SlowConsumerPolicy
from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsDriver
from support.ports import free_port
from support.tls import self_signed_certificate

pytestmark = pytest.mark.timeout(30)


async def test_allow_request_refuses_handshakes_it_rejects_on_both_transports(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()

    def only_with_ticket(request: HttpRequest) -> bool:
        return request.query.get("ticket") == "ok"

    server.engine._allow_request = only_with_ticket
    base = f"http://127.0.0.1:{server.port}/socket.io/"
    async with httpx.AsyncClient() as client:
        refused = await client.get(base, params={"EIO": "4", "transport": "polling"})
        allowed = await client.get(
            base, params={"EIO": "4", "transport": "polling", "ticket": "ok"}
        )
    assert refused.status_code == 403
    assert refused.json() == {"code": 4, "message": "Forbidden"}
    assert allowed.status_code == 200
    assert allowed.text.startswith('0{"sid":')
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"):
            pass
    assert refusal.value.response.status_code == 403


async def test_an_async_allow_request_hook_can_admit_the_official_client(js: JsDriver) -> None:
    async def admit(request: HttpRequest) -> bool:
        await asyncio.sleep(0)
        return request.header(b"x-ticket") == "ok"

    server = Server(Settings(port=free_port()), allow_request=admit)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        admitted = await js.connect(url, transports=["polling"], extra_headers={"x-ticket": "ok"})
        await admitted.wait("connect")
        refused = await js.connect(url, transports=["polling"], reconnection=False)
        await refused.wait("connect_error")
    finally:
        await server.shutdown()


async def _stalled_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that completes the handshakes, then never reads again."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**16)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer.write(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    await reader.readuntil(b"}")  # the Engine.IO OPEN packet
    mask = b"\x00\x00\x00\x00"
    writer.write(b"\x81\x82" + mask + b"40")  # CONNECT to "/", masked as clients must
    await writer.drain()
    return reader, writer


@pytest.mark.parametrize("policy", list(SlowConsumerPolicy))
async def test_a_client_that_stops_reading_is_cut_off_while_others_keep_receiving(
    running_server: ServerFactory, js: JsDriver, policy: SlowConsumerPolicy
) -> None:
    server: Server = await running_server(
        write_buffer_high_bytes=50_000, write_buffer_max_bytes=200_000, slow_consumer_policy=policy
    )
    reasons: asyncio.Queue[str] = asyncio.Queue()
    arrivals: asyncio.Queue[Socket] = asyncio.Queue()

    def on_connection(client: Socket) -> None:
        client.on("disconnect", reasons.put_nowait)
        arrivals.put_nowait(client)

    server.on("connection", on_connection)
    healthy = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await healthy.wait("connect")
    known = [(await arrivals.get()).id]
    _reader, writer = await _stalled_client(server.port)
    try:
        stalled = (await asyncio.wait_for(arrivals.get(), 5)).id
        # Only the stalled socket gets the flood; kernel buffers on loopback hold a few
        # megabytes before the server's own write buffer starts to grow.
        chunk = "x" * 50_000
        for index in range(2000):
            server.to(stalled).emit("bulk", index, chunk)
            await asyncio.sleep(0)
            if not reasons.empty():
                break
        assert await asyncio.wait_for(reasons.get(), 5) == "slow consumer"
        assert list(server.main.sockets) == known
        server.emit("after", "still here")
        assert await healthy.next_event("after") == ["still here"]
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_tls_settings_serve_wss_and_https(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server = Server(Settings(port=free_port(), tls_certfile=cert, tls_keyfile=key))
    server.on("connection", lambda socket: socket.on("ping?", lambda: "pong!"))
    await server.start()
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        async with connect(
            f"wss://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", ssl=trust
        ) as ws:
            assert str(await ws.recv()).startswith('0{"sid":')
            await ws.send("40")
            assert str(await ws.recv()).startswith('40{"sid":')
            await ws.send('421["ping?"]')
            assert await ws.recv() == '431["pong!"]'
        async with httpx.AsyncClient(verify=trust) as client:
            answer = await client.get(
                f"https://127.0.0.1:{server.port}/socket.io/",
                params={"EIO": "4", "transport": "polling"},
            )
        assert answer.status_code == 200
    finally:
        await server.shutdown()


async def test_the_official_client_reaches_its_own_tls_over_wss_and_https_polling(
    tmp_path: Path, js: JsDriver
) -> None:
    cert, key = self_signed_certificate(tmp_path, ("localhost", "127.0.0.1"))
    server = Server(Settings(port=free_port(), tls_certfile=cert, tls_keyfile=key))
    arrivals: asyncio.Queue[Socket] = asyncio.Queue()

    def on_connection(client: Socket) -> None:
        client.on("echo", lambda value: value)
        arrivals.put_nowait(client)

    server.on("connection", on_connection)
    await server.start()
    url = f"https://localhost:{server.port}"
    trusting: dict[str, Any] = {
        "ca": cert.read_text(),
        "agent": {"family": 4},
        "reconnection": False,
    }
    try:
        for transports in (["websocket"], ["polling"]):
            client = await js.connect(url, transports=transports, **trusting)
            await client.wait("connect")
            assert await client.emit_with_ack("echo", transports[0]) == [transports[0]]
            assert (await asyncio.wait_for(arrivals.get(), 5)).handshake.secure
        upgrading = await js.connect(url, **trusting)
        assert (await upgrading.wait("upgrade"))["transport"] == "websocket"
        assert await upgrading.emit_with_ack("echo", "upgraded") == ["upgraded"]
        # The certificate is verified: a client that does not trust it never connects.
        doubting = await js.connect(url, transports=["websocket"], reconnection=False)
        await doubting.wait("connect_error")
    finally:
        await server.shutdown()
