"""Shutdown tells every client, polling ones included, and honours its grace period."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from support.jsclient import JsDriver
from support.ports import free_port

pytestmark = pytest.mark.timeout(30)


async def test_a_polling_client_with_queued_traffic_sees_transport_close_on_shutdown(
    js: JsDriver,
) -> None:
    server = Server(Settings(port=free_port()))
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.on("connection", sockets.put_nowait)
    await server.start()
    client = await js.connect(
        f"http://127.0.0.1:{server.port}", transports=["polling"], reconnection=False
    )
    await client.wait("connect")
    socket = await asyncio.wait_for(sockets.get(), 5)

    for number in range(50):
        socket.emit("tick", number)
    await server.shutdown(grace=5)

    assert (await client.wait("disconnect"))["reason"] == "transport close"
    assert [(await client.next_event("tick"))[0] for _ in range(50)] == list(range(50))


async def test_shutdown_lets_a_request_in_flight_finish_within_the_grace_period() -> None:
    async def slow(request: Request) -> PlainTextResponse:
        del request
        await asyncio.sleep(2.5)
        return PlainTextResponse("finished")

    app = Starlette(routes=[Route("/slow", slow)])
    server = Server(Settings(port=free_port(), shutdown_grace_s=6), app=app)
    await server.start()
    async with httpx.AsyncClient(timeout=10) as http:
        request = asyncio.ensure_future(http.get(f"http://127.0.0.1:{server.port}/slow"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await server.shutdown()

        assert (await request).text == "finished"
        assert 2 <= time.monotonic() - started < 6


async def test_a_handler_running_at_shutdown_finishes_and_its_ack_arrives_before_the_close(
    js: JsDriver,
) -> None:
    server = Server(Settings(port=free_port(), shutdown_grace_s=10))
    started = asyncio.Event()

    async def on_save(socket: Socket, text: str) -> str:
        del socket
        started.set()
        await asyncio.sleep(0.5)  # a commit in flight when SIGTERM comes
        return f"saved {text}"

    server.on("connection", lambda socket: socket.on("save", lambda text: on_save(socket, text)))
    await server.start()
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await client.wait("connect")
    acked = asyncio.ensure_future(client.emit_with_ack("save", "m1"))
    await asyncio.wait_for(started.wait(), 5)

    await server.shutdown()

    assert await acked == ["saved m1"]
    assert (await client.wait("disconnect"))["reason"] == "transport close"
    kinds = [report["kind"] for report in client.history if report["kind"] in ("ack", "disconnect")]
    assert kinds == ["ack", "disconnect"]
