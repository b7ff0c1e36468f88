"""Rooms and every broadcast form, observed by official clients.

Absence is proved without sleeping: after the broadcast under test the server emits a
``marker`` to everyone, and since one connection delivers in order, a client that has
the marker but not the event was never sent it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baatcheet._types import Room
from baatcheet.sio import Namespace, Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsClient, JsDriver

pytestmark = pytest.mark.timeout(30)


class Lobby:
    """A server with clients named alice, bob and carol, who join rooms when asked."""

    def __init__(self, server: Server, clients: dict[str, JsClient], sockets: dict[str, Socket]):
        self.server = server
        self.clients = clients
        self.sockets = sockets

    async def received(self, event: str) -> dict[str, list[list[Any]]]:
        """What each client got of ``event`` before the marker the server sends now."""
        self.server.emit("marker")
        seen: dict[str, list[list[Any]]] = {}
        for name, client in self.clients.items():
            await client.wait("event", name="marker")
            seen[name] = [
                report["args"]
                for report in client.history
                if report.get("kind") == "event" and report.get("name") == event
            ]
        return seen

    async def who_received(self, event: str) -> set[str]:
        """Names of the clients that got ``event`` (each checked to have it at most once)."""
        seen = await self.received(event)
        for name, copies in seen.items():
            assert len(copies) <= 1, f"{name} got {event!r} {len(copies)} times"
        return {name for name, copies in seen.items() if copies}


@pytest.fixture
async def lobby(js: JsDriver, running_server: ServerFactory) -> Lobby:
    server: Server = await running_server()
    sockets: dict[str, Socket] = {}

    def on_connection(socket: Socket) -> None:
        sockets[socket.handshake.auth["name"]] = socket
        socket.on("join", socket.join)

    server.on("connection", on_connection)

    clients: dict[str, JsClient] = {}
    url = f"http://127.0.0.1:{server.port}"
    for name in ("alice", "bob", "carol"):
        clients[name] = await js.connect(url, transports=["websocket"], auth={"name": name})
    for client in clients.values():
        await client.wait("connect")
    return Lobby(server, clients, sockets)


def _join(lobby: Lobby, **membership: list[str]) -> None:
    for name, rooms in membership.items():
        lobby.sockets[name].join(rooms)


async def test_a_room_broadcast_reaches_only_the_room_members(lobby: Lobby) -> None:
    _join(lobby, alice=["red"], bob=["red"], carol=["blue"])
    lobby.server.to("red").emit("news", "red only")
    assert await lobby.who_received("news") == {"alice", "bob"}
    assert (await lobby.received("news"))["alice"] == [["red only"]]


async def test_a_broadcast_to_several_rooms_reaches_each_member_once(lobby: Lobby) -> None:
    _join(lobby, alice=["red", "blue"], bob=["blue"])
    lobby.server.to("red").to("blue").emit("news")
    assert await lobby.who_received("news") == {"alice", "bob"}


async def test_in_is_a_synonym_of_to(lobby: Lobby) -> None:
    _join(lobby, carol=["green"])
    lobby.server.in_("green").emit("news")
    assert await lobby.who_received("news") == {"carol"}


async def test_except_leaves_out_the_members_of_the_excluded_rooms(lobby: Lobby) -> None:
    _join(lobby, alice=["red", "muted"], bob=["red"], carol=["muted"])
    lobby.server.to("red").except_("muted").emit("news")
    assert await lobby.who_received("news") == {"bob"}
    lobby.server.except_("muted").emit("everyone-but-muted")
    assert await lobby.who_received("everyone-but-muted") == {"bob"}


async def test_a_client_can_join_rooms_by_event_and_then_receive_their_broadcasts(
    lobby: Lobby,
) -> None:
    await lobby.clients["carol"].emit("join", ["a", "b"])
    await lobby.clients["bob"].emit("join", "b")
    lobby.server.emit("marker")
    await lobby.clients["carol"].wait("event", name="marker")
    await lobby.clients["bob"].wait("event", name="marker")
    lobby.server.to("b").emit("news")
    assert await lobby.who_received("news") == {"bob", "carol"}


async def test_leaving_a_room_stops_its_broadcasts(lobby: Lobby) -> None:
    _join(lobby, alice=["red"], bob=["red"])
    lobby.sockets["alice"].leave("red")
    lobby.server.to("red").emit("news")
    assert await lobby.who_received("news") == {"bob"}


async def test_every_socket_can_be_reached_through_the_room_named_by_its_id(lobby: Lobby) -> None:
    lobby.server.to(lobby.sockets["carol"].id).emit("private", "for carol")
    assert await lobby.who_received("private") == {"carol"}
    assert Room(lobby.sockets["carol"].id) in lobby.sockets["carol"].rooms


async def test_a_socket_broadcast_reaches_everyone_but_the_sender(lobby: Lobby) -> None:
    lobby.sockets["alice"].broadcast.emit("news")
    assert await lobby.who_received("news") == {"bob", "carol"}


async def test_socket_to_a_room_leaves_out_the_sender_even_when_it_is_a_member(
    lobby: Lobby,
) -> None:
    _join(lobby, alice=["red"], bob=["red"])
    lobby.sockets["alice"].to("red").emit("news")
    assert await lobby.who_received("news") == {"bob"}


async def test_socket_except_leaves_out_the_sender_and_the_excluded_room(lobby: Lobby) -> None:
    _join(lobby, bob=["muted"])
    lobby.sockets["alice"].except_("muted").emit("news")
    assert await lobby.who_received("news") == {"carol"}


async def test_volatile_and_local_broadcasts_reach_connected_websocket_clients(
    lobby: Lobby,
) -> None:
    lobby.server.volatile.emit("volatile-news", 1)
    lobby.server.local.emit("local-news", 2)
    lobby.sockets["bob"].volatile.emit("just-bob", 3)
    assert await lobby.who_received("volatile-news") == {"alice", "bob", "carol"}
    assert await lobby.who_received("local-news") == {"alice", "bob", "carol"}
    assert await lobby.who_received("just-bob") == {"bob"}


async def test_operators_are_immutable_so_a_partial_target_can_be_reused(lobby: Lobby) -> None:
    _join(lobby, alice=["red"], bob=["blue"])
    red = lobby.server.to("red")
    red_and_blue = red.to("blue")
    red.emit("first")
    red_and_blue.emit("second")
    assert await lobby.who_received("first") == {"alice"}
    assert await lobby.who_received("second") == {"alice", "bob"}


async def test_broadcasts_from_one_task_arrive_in_the_order_they_were_sent(lobby: Lobby) -> None:
    _join(lobby, alice=["red"], bob=["red"])
    for index in range(20):
        lobby.server.to("red").emit("seq", index)
    seen = await lobby.received("seq")
    assert seen["alice"] == seen["bob"] == [[index] for index in range(20)]


async def test_a_disconnecting_handler_still_sees_the_rooms_that_disconnect_has_left(
    lobby: Lobby,
) -> None:
    _join(lobby, alice=["red", "blue"])
    seen: asyncio.Queue[tuple[str, str, set[Room]]] = asyncio.Queue()
    alice = lobby.sockets["alice"]
    alice.on(
        "disconnecting", lambda reason: seen.put_nowait(("disconnecting", reason, alice.rooms))
    )
    alice.on("disconnect", lambda reason: seen.put_nowait(("disconnect", reason, alice.rooms)))
    await lobby.clients["alice"].disconnect()
    assert await asyncio.wait_for(seen.get(), 5) == (
        "disconnecting",
        "client namespace disconnect",
        {alice.id, "red", "blue"},
    )
    assert await asyncio.wait_for(seen.get(), 5) == (
        "disconnect",
        "client namespace disconnect",
        set(),
    )
    nsp: Namespace = lobby.server.main
    assert "red" not in nsp.adapter.socket_rooms(alice.id)
    assert [socket.id for socket in await lobby.server.in_("red").fetch_sockets()] == []


async def test_frames_held_by_coalesce_writes_arrive_complete_and_in_order(lobby: Lobby) -> None:
    """A burst's broadcasts and ack reach every member, in emit order, ack last."""
    _join(lobby, alice=["red"], bob=["red"], carol=["blue"])
    server = lobby.server

    def burst() -> str:
        server.coalesce_writes()
        for number in (1, 2, 3):
            server.to("red").emit("news", number)
        return "done"

    lobby.sockets["alice"].on("burst", burst)
    alice = lobby.clients["alice"]
    assert await alice.emit_with_ack("burst") == ["done"]
    assert await lobby.received("news") == {
        "alice": [[1], [2], [3]],
        "bob": [[1], [2], [3]],
        "carol": [],
    }
    kinds = [
        report.get("args") if report.get("kind") == "event" else report.get("kind")
        for report in alice.history
        if report.get("kind") == "ack" or report.get("name") == "news"
    ]
    assert kinds == [[1], [2], [3], "ack"]
