"""``/healthz`` (the process runs) and ``/readyz`` (send clients here), over real sockets.

The database going down is in test_chat_database_down.py; here: checks that pass, fail or
hang, Redis going away, and a draining server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from baatcheet.errors import StoreError
from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsDriver
from support.ports import free_port
from support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_healthz_answers_200_while_the_process_runs(
    running_server: ServerFactory, http: httpx.AsyncClient
) -> None:
    server: Server = await running_server()

    answer = await http.get(f"http://127.0.0.1:{server.port}/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert answer.headers["cache-control"] == "no-store"


async def test_readyz_answers_200_with_every_check_that_passed(
    running_server: ServerFactory, http: httpx.AsyncClient
) -> None:
    server: Server = await running_server()

    async def answers() -> None:
        return None

    server.health.add_check("database", answers)
    answer = await http.get(f"http://127.0.0.1:{server.port}/readyz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_readyz_answers_503_naming_a_failing_check_and_a_silent_one(
    running_server: ServerFactory, http: httpx.AsyncClient
) -> None:
    server: Server = await running_server(health_timeout_s=0.2)

    async def fails() -> None:
        raise StoreError("database unavailable: connection refused")

    async def never_answers() -> None:
        await asyncio.Event().wait()

    server.health.add_check("database", fails)
    server.health.add_check("cache", never_answers)
    answer = await http.get(f"http://127.0.0.1:{server.port}/readyz")

    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unavailable",
        "reason": "database: database unavailable: connection refused",
        "checks": {
            "database": "database unavailable: connection refused",
            "cache": "no answer within 0.2 s",
        },
    }


@pytest.mark.redis
async def test_readyz_answers_503_while_redis_is_unreachable(
    redis_url: str, http: httpx.AsyncClient
) -> None:
    async with TcpProxy(urlsplit(redis_url).port or 6379) as proxy:
        server = Server(Settings(port=free_port(), redis_url=f"redis://127.0.0.1:{proxy.port}/0"))
        await server.start()
        try:
            url = f"http://127.0.0.1:{server.port}/readyz"
            ready = await http.get(url)
            assert (ready.status_code, ready.json()["checks"]) == (200, {"redis": "ok"})

            await proxy.cut()
            down = await http.get(url)

            assert down.status_code == 503
            assert down.json()["reason"].startswith("redis: Redis at 127.0.0.1:")
            assert (await http.get(f"http://127.0.0.1:{server.port}/healthz")).status_code == 200
        finally:
            await server.shutdown(grace=1)


async def test_a_draining_server_is_not_ready_and_refuses_new_clients(
    running_server: ServerFactory, http: httpx.AsyncClient, js: JsDriver
) -> None:
    server: Server = await running_server(shutdown_grace_s=10)
    started = asyncio.Event()
    release = asyncio.Event()

    async def on_slow(socket: Socket) -> str:
        del socket
        started.set()
        await release.wait()
        return "done"

    server.on("connection", lambda socket: socket.on("slow", lambda: on_slow(socket)))
    base = f"http://127.0.0.1:{server.port}"
    client = await js.connect(base, transports=["websocket"], reconnection=False)
    await client.wait("connect")
    acked = asyncio.ensure_future(client.emit_with_ack("slow"))
    await asyncio.wait_for(started.wait(), 5)

    drain = asyncio.ensure_future(server.shutdown())
    # The drain is held up by the running handler, so the node stays in this state.
    ready = await http.get(f"{base}/readyz")
    handshake = await http.get(f"{base}/socket.io/", params={"EIO": "4", "transport": "polling"})
    alive = await http.get(f"{base}/healthz")
    release.set()
    await asyncio.wait_for(drain, 10)

    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "unavailable", "reason": "draining"},
    )
    assert handshake.status_code == 503
    assert alive.status_code == 200
    assert await acked == ["done"]
