"""Namespaces, static and dynamic, multiplexed over one connection of the official client."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from baatcheet.sio import DynamicNamespace, Namespace, Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsClient, JsDriver

pytestmark = pytest.mark.timeout(30)


def _args_of(client: JsClient, event: str) -> list[list[Any]]:
    """The arguments of every ``event`` the client has received so far."""
    return [
        report["args"]
        for report in client.history
        if report.get("kind") == "event" and report.get("name") == event
    ]


async def test_events_emitted_to_a_namespace_reach_only_its_clients(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    chat: Namespace = server.of("/chat")
    url = f"http://127.0.0.1:{server.port}"
    in_chat = await js.connect(f"{url}/chat", transports=["websocket"])
    in_main = await js.connect(url, transports=["websocket"])
    await in_chat.wait("connect")
    await in_main.wait("connect")
    chat.emit("news", "for chat")
    server.emit("news", "for main")
    # A marker sent after the news arrives after it: by then each client has all it got.
    chat.emit("marker")
    server.emit("marker")
    for client, news in ((in_chat, "for chat"), (in_main, "for main")):
        await client.wait("event", name="marker")
        assert _args_of(client, "news") == [[news]]


async def test_an_unknown_namespace_is_refused_with_connect_error(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    client = await js.connect(f"http://127.0.0.1:{server.port}/nowhere", reconnection=False)
    error = await client.wait("connect_error")
    assert error["message"] == "Invalid namespace"
    await client.assert_silent("connect")


async def test_a_regex_namespace_creates_each_matching_namespace_on_demand(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    rooms: DynamicNamespace = server.of(re.compile(r"^/room-\d+$"))
    names: asyncio.Queue[str] = asyncio.Queue()
    rooms.on("connection", lambda socket: names.put_nowait(socket.nsp.name))
    url = f"http://127.0.0.1:{server.port}"
    first = await js.connect(f"{url}/room-1", transports=["websocket"])
    second = await js.connect(f"{url}/room-22", transports=["websocket"])
    refused = await js.connect(f"{url}/room-x", transports=["websocket"], reconnection=False)
    await first.wait("connect")
    await second.wait("connect")
    assert (await refused.wait("connect_error"))["message"] == "Invalid namespace"
    assert {await names.get(), await names.get()} == {"/room-1", "/room-22"}
    assert set(rooms.children) == {"/room-1", "/room-22"}
    rooms.children["/room-22"].emit("hello", 22)
    rooms.children["/room-1"].emit("marker")
    assert await second.next_event("hello") == [22]
    await first.wait("event", name="marker")
    assert _args_of(first, "hello") == []


async def test_a_callable_namespace_matcher_decides_from_the_name_and_the_auth(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()

    def matcher(name: str, auth: dict[str, Any]) -> bool:
        return name.startswith("/team-") and auth.get("team") == name.removeprefix("/team-")

    teams: DynamicNamespace = server.of(matcher)
    teams.on("connection", lambda socket: socket.emit("welcome", socket.nsp.name))
    url = f"http://127.0.0.1:{server.port}"
    member = await js.connect(f"{url}/team-red", auth={"team": "red"})
    outsider = await js.connect(f"{url}/team-red", auth={"team": "blue"}, reconnection=False)
    assert await member.next_event("welcome") == ["/team-red"]
    assert (await outsider.wait("connect_error"))["message"] == "Invalid namespace"


async def test_a_dynamic_family_broadcast_reaches_every_child_namespace(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    family: DynamicNamespace = server.of(re.compile(r"^/game-\w+$"))
    url = f"http://127.0.0.1:{server.port}"
    chess = await js.connect(f"{url}/game-chess", transports=["websocket"])
    go = await js.connect(f"{url}/game-go", transports=["websocket"])
    await chess.wait("connect")
    await go.wait("connect")
    family.emit("announce", "tournament")
    assert await chess.next_event("announce") == ["tournament"]
    assert await go.next_event("announce") == ["tournament"]


async def test_sockets_of_two_namespaces_share_one_connection_when_the_client_multiplexes(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.on("connection", sockets.put_nowait)
    server.of("/admin").on("connection", sockets.put_nowait)
    url = f"http://127.0.0.1:{server.port}"
    main = await js.connect(url, transports=["websocket"], force_new=False)
    admin = await js.connect(f"{url}/admin", transports=["websocket"], force_new=False)
    await main.wait("connect")
    await admin.wait("connect")
    first, second = await sockets.get(), await sockets.get()
    assert {first.nsp.name, second.nsp.name} == {"/", "/admin"}
    assert first.client is second.client
    assert first.id != second.id


async def test_leaving_one_namespace_keeps_the_other_namespace_on_the_connection_working(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    reasons: asyncio.Queue[str] = asyncio.Queue()

    def on_main(socket: Socket) -> None:
        socket.on("disconnect", reasons.put_nowait)

    server.on("connection", on_main)

    def on_admin(socket: Socket) -> None:
        socket.on("ping?", lambda: "pong!")

    server.of("/admin").on("connection", on_admin)

    url = f"http://127.0.0.1:{server.port}"
    main = await js.connect(url, transports=["websocket"], force_new=False)
    admin = await js.connect(f"{url}/admin", transports=["websocket"], force_new=False)
    await main.wait("connect")
    await admin.wait("connect")
    await main.disconnect()
    assert await asyncio.wait_for(reasons.get(), 5) == "client namespace disconnect"
    assert (await main.wait("disconnect"))["reason"] == "io client disconnect"
    assert await admin.emit_with_ack("ping?") == ["pong!"]
    assert [r for r in admin.history if r.get("kind") == "disconnect"] == []  # ack: the marker


async def test_a_server_side_namespace_disconnect_is_final_for_the_client(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    reasons: asyncio.Queue[str] = asyncio.Queue()

    def on_connection(socket: Socket) -> None:
        socket.on("disconnect", reasons.put_nowait)
        socket.on("kick me", socket.disconnect)

    server.on("connection", on_connection)

    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await client.wait("connect")
    await client.emit("kick me")
    assert (await client.wait("disconnect"))["reason"] == "io server disconnect"
    assert await asyncio.wait_for(reasons.get(), 5) == "server namespace disconnect"
    await client.assert_silent("reconnect_attempt")
    assert not server.main.sockets


async def test_a_client_kicked_from_one_namespace_may_join_it_again_on_the_same_connection(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    admin_sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.of("/admin").on("connection", admin_sockets.put_nowait)
    url = f"http://127.0.0.1:{server.port}"
    main = await js.connect(url, transports=["websocket"], force_new=False)
    admin = await js.connect(f"{url}/admin", transports=["websocket"], force_new=False)
    await main.wait("connect")
    await admin.wait("connect")
    (await admin_sockets.get()).disconnect()
    assert (await admin.wait("disconnect"))["reason"] == "io server disconnect"
    await admin.open()
    again = await admin.wait("connect")
    assert (await admin_sockets.get()).id == again["sid"]
