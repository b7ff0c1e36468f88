"""Baatcheet mounted as an ASGI app under uvicorn still serves the official client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from support.jsclient import JsDriver
from support.ports import free_port


async def _hello(request: Any) -> PlainTextResponse:
    del request
    return PlainTextResponse("hello from the host app")


@pytest.fixture
async def asgi_server() -> AsyncIterator[tuple[Server, int]]:
    server = Server(Settings(port=0))
    host_app = Starlette(routes=[Route("/hello", _hello)])
    port = free_port()
    config = uvicorn.Config(
        server.asgi_app(fallback=host_app),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    runner = uvicorn.Server(config)
    task = asyncio.create_task(runner.serve())
    while not runner.started:  # noqa: ASYNC110 - uvicorn exposes only this flag
        await asyncio.sleep(0.02)
    yield server, port
    runner.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], ["polling", "websocket"]])
async def test_official_client_chats_through_the_asgi_entry(
    asgi_server: tuple[Server, int], js: JsDriver, transports: list[str]
) -> None:
    server, port = asgi_server

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.join("room")

        @socket.on("say")
        def on_say(text: str) -> dict[str, str]:
            server.to("room").emit("said", text)
            return {"echo": text}

    alice = await js.connect(f"http://127.0.0.1:{port}", transports=transports)
    bob = await js.connect(f"http://127.0.0.1:{port}", transports=transports)
    await alice.wait("connect")
    await bob.wait("connect")
    assert await alice.emit_with_ack("say", "namaste") == [{"echo": "namaste"}]
    assert await bob.next_event("said") == ["namaste"]
    assert await alice.next_event("said") == ["namaste"]


async def test_other_paths_reach_the_host_app(asgi_server: tuple[Server, int]) -> None:
    _, port = asgi_server
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/hello")
        bad = await client.get(
            f"http://127.0.0.1:{port}/socket.io/", params={"EIO": "3", "transport": "polling"}
        )
    assert answer.text == "hello from the host app"
    assert bad.status_code == 400
    assert bad.json() == {"code": 5, "message": "Unsupported protocol version"}
