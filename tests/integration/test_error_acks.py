"""The shape of error acks is the application's: set per server, overridden per namespace.

Real server, real sockets, the Python client: what a client's ack callback receives when
the server answers in a handler's place.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from baatcheet import EventError, Server, Settings, Socket, SocketIOClient
from baatcheet.sio.namespace import Registration
from support.ports import free_port

pytestmark = pytest.mark.timeout(60)


def tagged(code: str, message: str) -> dict[str, Any]:
    """An application's own error envelope, unlike the default and unlike the chat's."""
    return {"status": "failed", "reason": code, "detail": message}


def install(namespace: Registration) -> None:
    """Handlers that refuse in each of the ways the server answers for them."""

    @namespace.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("refuse")
        def refuse() -> None:
            raise EventError("not_allowed", "you may not do that here")

        @socket.on("crash")
        def crash() -> None:
            raise RuntimeError("secret internal detail")


@pytest.fixture
async def servers() -> AsyncIterator[list[Server]]:
    """Servers the test built and started; shut down after it."""
    started: list[Server] = []
    yield started
    for server in reversed(started):
        await server.shutdown()


async def start(started: list[Server], server: Server) -> str:
    await server.start()
    started.append(server)
    return f"http://127.0.0.1:{server.port}"


async def test_the_servers_error_ack_shapes_every_answer_it_gives_for_a_handler(
    servers: list[Server],
) -> None:
    server = Server(
        Settings(port=free_port(), packet_burst=4, packet_rate_per_s=0.1), error_ack=tagged
    )
    install(server)
    url = await start(servers, server)
    async with SocketIOClient(url, transports=["websocket"]) as client:
        answers = [
            await client.emit_with_ack("refuse"),
            await client.emit_with_ack("crash"),
            await client.emit_with_ack("no such event"),
            await client.emit_with_ack("over the rate"),
        ]
    assert answers == [
        [{"status": "failed", "reason": "not_allowed", "detail": "you may not do that here"}],
        [
            {
                "status": "failed",
                "reason": "internal",
                "detail": "the server failed to handle 'crash'",
            }
        ],
        [
            {
                "status": "failed",
                "reason": "unknown_event",
                "detail": "no handler for event 'no such event'",
            }
        ],
        [{"status": "failed", "reason": "rate_limited", "detail": "too many packets; slow down"}],
    ]


async def test_a_namespace_that_sets_its_own_shape_leaves_the_others_with_the_servers(
    servers: list[Server],
) -> None:
    server = Server(Settings(port=free_port()))
    install(server)
    admin = server.of("/admin")
    admin.error_ack = tagged
    install(admin)
    url = await start(servers, server)
    async with SocketIOClient(url, namespaces=["/", "/admin"], transports=["websocket"]) as client:
        main_answer = await client.of("/").emit_with_ack("refuse")
        admin_answer = await client.of("/admin").emit_with_ack("refuse")
    assert main_answer == [{"error": "not_allowed", "message": "you may not do that here"}]
    assert admin_answer == [
        {"status": "failed", "reason": "not_allowed", "detail": "you may not do that here"}
    ]


async def test_a_dynamic_familys_shape_reaches_children_made_after_it_was_set(
    servers: list[Server],
) -> None:
    server = Server(Settings(port=free_port()))
    family = server.of(re.compile(r"^/team-\d+$"))
    install(family)
    url = await start(servers, server)
    family.error_ack = tagged
    async with SocketIOClient(f"{url}/team-7", transports=["websocket"]) as client:
        answer = await client.emit_with_ack("nobody listens")
    assert answer == [
        {
            "status": "failed",
            "reason": "unknown_event",
            "detail": "no handler for event 'nobody listens'",
        }
    ]
