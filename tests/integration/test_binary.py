"""Binary arguments travel both ways as ``bytes`` on each transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)

TRANSPORTS = pytest.mark.parametrize("transport", ["websocket", "polling"])
BLOB = bytes(range(256))


async def _binary_server(running_server: ServerFactory) -> tuple[Server, asyncio.Queue[Any]]:
    server: Server = await running_server()
    received: asyncio.Queue[Any] = asyncio.Queue()

    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda *args: args)
        socket.on("upload", lambda *args: received.put_nowait(args))
        socket.on("send me", lambda: socket.emit("blobs", b"", BLOB, {"nested": [b"\xff"]}))

    server.on("connection", on_connection)

    return server, received


@TRANSPORTS
async def test_binary_sent_by_the_client_reaches_the_handler_as_bytes(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server, received = await _binary_server(running_server)
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=[transport])
    await client.wait("connect")
    await client.emit("upload", "photo.png", BLOB, {"thumb": b"\x89PNG"})
    assert await asyncio.wait_for(received.get(), 5) == ("photo.png", BLOB, {"thumb": b"\x89PNG"})


@TRANSPORTS
async def test_binary_emitted_by_the_server_arrives_with_every_attachment_in_place(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server, _ = await _binary_server(running_server)
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=[transport])
    await client.wait("connect")
    await client.emit("send me")
    assert await client.next_event("blobs") == [b"", BLOB, {"nested": [b"\xff"]}]


@TRANSPORTS
async def test_an_ack_carries_binary_back_to_the_client(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server, _ = await _binary_server(running_server)
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=[transport])
    await client.wait("connect")
    args = [b"\x00\x01", "text", [b"a", {"b": b"b"}]]
    assert await client.emit_with_ack("echo", *args) == args


async def test_a_binary_broadcast_reaches_clients_on_both_transports(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server, _ = await _binary_server(running_server)
    url = f"http://127.0.0.1:{server.port}"
    clients = [await js.connect(url, transports=[t]) for t in ("websocket", "polling")]
    for client in clients:
        await client.wait("connect")
    server.emit("frame", 7, BLOB, b"\x00")
    for client in clients:
        assert await client.next_event("frame") == [7, BLOB, b"\x00"]


async def test_a_client_answer_to_a_server_ack_may_carry_binary(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.on("connection", sockets.put_nowait)
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await client.wait("connect")
    await client.on_ack("download", [{"file": BLOB}])
    socket = await sockets.get()
    assert await socket.emit_with_ack("download", timeout=2) == [{"file": BLOB}]
