"""A user's own plain WebSocket handlers: ``@server.websocket(path)`` on any ``Server``."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from baatcheet.listener.websocket_route import PlainWebSocket
from baatcheet.settings import Settings
from baatcheet.sio import Server
from support.factories import ServerFactory
from support.ports import free_port

pytestmark = pytest.mark.timeout(30)


async def _recv(ws: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), 5)


async def test_a_decorated_handler_echoes_text_and_binary_in_order(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()

    @server.websocket("/echo")
    async def echo(ws: PlainWebSocket) -> None:
        async for message in ws:
            ws.send(message)

    async with connect(f"ws://127.0.0.1:{server.port}/echo") as ws:
        for message in ("one", b"\x00two", "three"):
            await ws.send(message)
        assert [await _recv(ws) for _ in range(3)] == ["one", b"\x00two", "three"]


async def test_the_handler_sees_the_request_and_the_peers_close(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    ended: asyncio.Future[tuple[str, int | None, str]] = asyncio.Future()

    @server.websocket("/room")
    async def room(ws: PlainWebSocket) -> None:
        ws.send(f"hello {ws.request.query.get('name')}")
        async for _ in ws:
            pass
        ended.set_result((ws.request.path, ws.close_code, ws.close_reason))

    async with connect(f"ws://127.0.0.1:{server.port}/room?name=asha") as ws:
        assert await _recv(ws) == "hello asha"
        await ws.close(4001, "leaving")
    assert await asyncio.wait_for(ended, 5) == ("/room", 4001, "leaving")


async def test_a_handler_that_returns_closes_the_connection_normally(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()

    @server.websocket("/once")
    async def once(ws: PlainWebSocket) -> None:
        ws.send(f"got {await ws.receive()!r}")

    async with connect(f"ws://127.0.0.1:{server.port}/once") as ws:
        await ws.send("ping")
        assert await _recv(ws) == "got 'ping'"
        with pytest.raises(ConnectionClosed):
            await _recv(ws)
    assert ws.close_code == 1000


async def test_a_handler_can_close_with_its_own_code_and_reason(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()

    @server.websocket("/bouncer")
    async def bouncer(ws: PlainWebSocket) -> None:
        ws.close(4403, "members only")

    async with connect(f"ws://127.0.0.1:{server.port}/bouncer") as ws:
        with pytest.raises(ConnectionClosed):
            await _recv(ws)
    assert (ws.close_code, ws.close_reason) == (4403, "members only")


async def test_a_failing_handler_closes_with_1011_and_no_traceback_reaches_the_peer(
    running_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server: Server = await running_server()

    @server.websocket("/broken")
    async def broken(ws: PlainWebSocket) -> None:
        await ws.receive()
        raise RuntimeError("handler bug")

    async with connect(f"ws://127.0.0.1:{server.port}/broken") as ws:
        await ws.send("anything")
        with pytest.raises(ConnectionClosed):
            await _recv(ws)
    assert (ws.close_code, ws.close_reason) == (1011, "internal error")
    assert "handler bug" in caplog.text


async def test_handlers_follow_the_servers_origin_policy(running_server: ServerFactory) -> None:
    server: Server = await running_server(cors_origins=["https://chat.example"])

    @server.websocket("/echo")
    async def echo(ws: PlainWebSocket) -> None:
        ws.send("welcome")

    url = f"ws://127.0.0.1:{server.port}/echo"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin=Origin("https://evil.example")):
            pass
    assert refused.value.response.status_code == 403
    async with connect(url, origin=Origin("https://chat.example")) as ws:
        assert await _recv(ws) == "welcome"


async def test_a_handler_that_does_not_read_still_gets_every_message_later(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    go = asyncio.Event()

    @server.websocket("/slow")
    async def slow(ws: PlainWebSocket) -> None:
        await go.wait()
        count = 0
        async for message in ws:
            count += 1
            if message == "last":
                break
        ws.send(str(count))

    async with connect(f"ws://127.0.0.1:{server.port}/slow") as ws:
        for i in range(199):
            await ws.send(f"m{i}")
        await ws.send("last")
        await asyncio.sleep(0.1)
        go.set()
        assert await _recv(ws) == "200"


async def test_handlers_are_served_under_an_asgi_server_too() -> None:
    server = Server(Settings(port=0))

    @server.websocket("/shout")
    async def shout(ws: PlainWebSocket) -> None:
        async for message in ws:
            ws.send(str(message).upper())

    port = free_port()
    config = uvicorn.Config(
        server.asgi_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    runner = uvicorn.Server(config)
    task = asyncio.create_task(runner.serve())
    try:
        while not runner.started:  # noqa: ASYNC110 - uvicorn exposes only this flag
            await asyncio.sleep(0.02)
        async with connect(f"ws://127.0.0.1:{port}/shout") as ws:
            await ws.send("namaste")
            assert await _recv(ws) == "NAMASTE"
    finally:
        runner.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


async def test_shutdown_closes_open_handlers_with_1001_without_waiting_out_the_grace(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    ended: asyncio.Future[int | None] = asyncio.Future()

    @server.websocket("/stay")
    async def stay(ws: PlainWebSocket) -> None:
        ws.send("hi")
        async for _ in ws:
            pass
        ended.set_result(ws.close_code)

    async with connect(f"ws://127.0.0.1:{server.port}/stay") as ws:
        assert await _recv(ws) == "hi"
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.shutdown(grace=10)
        took = loop.time() - started
        with pytest.raises(ConnectionClosed):
            await _recv(ws)
    assert (ws.close_code, ws.close_reason) == (1001, "server shutting down")
    assert await asyncio.wait_for(ended, 5) == 1001
    assert took < 5
