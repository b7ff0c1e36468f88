"""Socket.route: one router object answers for a socket's events, acks included."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from baatcheet.sio.socket import EventHandler
from baatcheet.testing import connect_test_client

pytestmark = pytest.mark.timeout(30)


class Router:
    """Answers ``echo`` with what it got and records ``disconnect`` reasons."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def handler(self, event: str) -> EventHandler | None:
        if event == "echo":
            return lambda *args: {"echoed": list(args)}
        if event == "slow echo":
            return self._slow_echo
        if event == "disconnect":
            return self.reasons.append
        return None

    async def _slow_echo(self, value: Any) -> Any:
        await asyncio.sleep(0)
        return value


def routed_server(router: Router) -> Server:
    server = Server(Settings(tune_gc=False))

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.route(router)
        socket.on("echo", lambda *args: "registered first")
        socket.on("bye", socket.disconnect)

    return server


async def test_a_routed_handler_answers_the_ack_sync_or_async() -> None:
    router = Router()
    client = await connect_test_client(routed_server(router))
    assert await client.emit_with_ack("slow echo", {"a": 1}) == [{"a": 1}]
    await client.disconnect()


async def test_a_handler_registered_with_on_comes_before_the_router() -> None:
    router = Router()
    client = await connect_test_client(routed_server(router))
    assert await client.emit_with_ack("echo", 1, 2) == ["registered first"]
    await client.disconnect()


async def test_an_event_the_router_does_not_know_gets_the_unknown_event_ack() -> None:
    router = Router()
    client = await connect_test_client(routed_server(router))
    [answer] = await client.emit_with_ack("nobody handles this")
    assert answer["error"] == "unknown_event"
    await client.disconnect()


async def test_the_router_hears_the_disconnect_with_its_reason() -> None:
    router = Router()
    client = await connect_test_client(routed_server(router))
    client.emit("bye")
    for _ in range(100):
        if router.reasons:
            break
        await asyncio.sleep(0.01)
    assert router.reasons == ["server namespace disconnect"]
