"""The server-side API of ``baatcheet.sio`` as an application uses it, with real clients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from baatcheet.errors import SocketClosedError
from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsClient, JsDriver

pytestmark = pytest.mark.timeout(30)


async def _two_clients(
    js: JsDriver, server: Server
) -> tuple[dict[str, JsClient], dict[str, Socket]]:
    """alice and bob connected to ``/``, with their server-side sockets by name."""
    sockets: dict[str, Socket] = {}
    server.on("connection", lambda socket: sockets.update({socket.handshake.auth["name"]: socket}))
    url = f"http://127.0.0.1:{server.port}"
    clients = {
        name: await js.connect(url, transports=["websocket"], auth={"name": name})
        for name in ("alice", "bob")
    }
    for client in clients.values():
        await client.wait("connect")
    return clients, sockets


async def test_the_handshake_exposes_auth_headers_query_and_address(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.on("connection", sockets.put_nowait)
    client = await js.connect(
        f"http://127.0.0.1:{server.port}",
        transports=["websocket"],
        auth={"token": "t0k3n"},
        query={"room": "lobby"},
        extra_headers={"x-client-version": "1.2.3"},
    )
    await client.wait("connect")
    handshake = (await sockets.get()).handshake
    assert handshake.auth == {"token": "t0k3n"}
    assert handshake.query["room"] == "lobby"
    assert handshake.query["EIO"] == "4"
    assert handshake.headers["x-client-version"] == "1.2.3"
    assert handshake.address == "127.0.0.1"
    assert handshake.url.startswith("/socket.io/?")
    assert handshake.secure is False
    assert handshake.issued > 0
    assert handshake.time.endswith("GMT")


async def test_a_catch_all_listener_sees_every_event_with_its_arguments(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    seen: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    def on_connection(socket: Socket) -> None:
        socket.on_any(lambda *args: seen.put_nowait(args))
        socket.on("handled", lambda value: value)

    server.on("connection", on_connection)

    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await client.wait("connect")
    await client.emit("unhandled", 1, "two")
    assert await client.emit_with_ack("handled", b"\x03") == [b"\x03"]
    assert await asyncio.wait_for(seen.get(), 5) == ("unhandled", 1, "two")
    assert await asyncio.wait_for(seen.get(), 5) == ("handled", b"\x03")


async def test_several_handlers_of_one_event_all_run_and_the_first_one_answers(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    calls: list[str] = []

    def answer_as(name: str) -> Callable[[], str]:
        def handler() -> str:
            calls.append(name)
            return name

        return handler

    def on_connection(socket: Socket) -> None:
        socket.on("go", answer_as("first"))
        socket.on("go", answer_as("second"))

    server.on("connection", on_connection)

    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await client.wait("connect")
    assert await client.emit_with_ack("go") == ["first"]
    assert calls == ["first", "second"]


async def test_fetch_sockets_returns_snapshots_with_rooms_data_and_handshake(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    _, sockets = await _two_clients(js, server)
    sockets["alice"].join("red")
    sockets["alice"].data["role"] = "admin"
    everyone = {remote.id: remote for remote in await server.fetch_sockets()}
    assert set(everyone) == {sockets["alice"].id, sockets["bob"].id}
    alice = everyone[sockets["alice"].id]
    assert alice.rooms == {sockets["alice"].id, "red"}
    assert alice.data == {"role": "admin"}
    assert alice.handshake["auth"] == {"name": "alice"}
    assert [remote.id for remote in await server.in_("red").fetch_sockets()] == [alice.id]


async def test_sockets_join_and_sockets_leave_move_every_selected_socket(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    clients, sockets = await _two_clients(js, server)
    server.sockets_join("everyone")
    server.in_(sockets["alice"].id).sockets_join(["vip", "staff"])
    assert sockets["alice"].rooms == {sockets["alice"].id, "everyone", "vip", "staff"}
    assert sockets["bob"].rooms == {sockets["bob"].id, "everyone"}
    server.sockets_leave("everyone")
    server.in_("vip").sockets_leave("staff")
    assert sockets["alice"].rooms == {sockets["alice"].id, "vip"}
    server.to("everyone").emit("nobody")
    server.to("vip").emit("vip-news")
    assert await clients["alice"].next_event("vip-news") == []
    assert not any(report.get("name") == "nobody" for report in clients["alice"].history)


async def test_disconnect_sockets_disconnects_only_the_selected_sockets(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    clients, sockets = await _two_clients(js, server)
    reasons: asyncio.Queue[str] = asyncio.Queue()
    sockets["bob"].on("disconnect", reasons.put_nowait)
    sockets["bob"].join("troublemakers")
    server.in_("troublemakers").disconnect_sockets()
    assert (await clients["bob"].wait("disconnect"))["reason"] == "io server disconnect"
    assert await asyncio.wait_for(reasons.get(), 5) == "server namespace disconnect"
    assert list(server.main.sockets) == [sockets["alice"].id]
    server.disconnect_sockets()
    assert (await clients["alice"].wait("disconnect"))["reason"] == "io server disconnect"
    assert not server.main.sockets


async def test_a_remote_socket_from_fetch_sockets_can_be_acted_on(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    clients, sockets = await _two_clients(js, server)
    (bob,) = [remote for remote in await server.fetch_sockets() if remote.id == sockets["bob"].id]
    bob.emit("direct", "hi bob")
    bob.join("late")
    assert await clients["bob"].next_event("direct") == ["hi bob"]
    assert "late" in sockets["bob"].rooms
    bob.leave("late")
    assert "late" not in sockets["bob"].rooms
    bob.disconnect()
    assert (await clients["bob"].wait("disconnect"))["reason"] == "io server disconnect"


async def test_emitting_on_a_disconnected_socket_raises_socket_closed_error(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    clients, sockets = await _two_clients(js, server)
    gone = asyncio.Event()
    sockets["bob"].on("disconnect", lambda reason: gone.set())
    await clients["bob"].disconnect()
    await asyncio.wait_for(gone.wait(), 5)
    assert sockets["bob"].connected is False
    with pytest.raises(SocketClosedError, match="disconnected"):
        sockets["bob"].emit("too late")


@pytest.mark.parametrize("name", ["connect", "disconnect", "disconnecting", "connect_error"])
async def test_reserved_event_names_cannot_be_emitted(
    js: JsDriver, running_server: ServerFactory, name: str
) -> None:
    server: Server = await running_server()
    _, sockets = await _two_clients(js, server)
    with pytest.raises(ValueError, match="reserved"):
        sockets["alice"].emit(name)
    with pytest.raises(ValueError, match="reserved"):
        server.emit(name)


async def test_an_async_connection_handler_may_await_before_registering_listeners(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()

    async def on_connection(socket: Socket) -> None:
        await asyncio.sleep(0)
        socket.emit("ready")
        socket.on("echo", lambda value: value)

    server.on("connection", on_connection)

    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await client.next_event("ready")
    assert await client.emit_with_ack("echo", "ok") == ["ok"]


async def test_connection_handlers_run_in_order_across_async_ones_and_past_a_failing_one(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    calls: list[str] = []

    def first(socket: Socket) -> None:
        calls.append("first")
        raise RuntimeError("a broken handler must not stop the others")

    async def second(socket: Socket) -> None:
        await asyncio.sleep(0.05)
        calls.append("second")

    def third(socket: Socket) -> None:
        calls.append("third")
        socket.emit("ready", calls)

    for handler in (first, second, third):
        server.on("connection", handler)
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await client.wait("connect")
    assert await client.next_event("ready") == [["first", "second", "third"]]
