"""A mixed cluster on one real Redis: a Node socket.io 4.8 server with @socket.io/redis-adapter
8.3 and two Baatcheet nodes, with official clients on each, and the @socket.io/redis-emitter.

Each cluster operation is started once from a Python node and once from the Node server
(``origin``); the clients on all three servers check the outcome, so every direction is
covered: Python→Node, Python→Python and Node→Python.

Absence is proved without sleeping: after the operation under test, the origin emits a
``marker`` to everyone, and since messages from one origin keep their order on every node, a
client that has the marker but not the event was never sent it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from baatcheet.errors import AckTimeoutError
from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from baatcheet.sio.broadcast import BroadcastOperator
from support.jsclient import JsClient, JsDriver
from support.nodecluster import NodeClusterServer
from support.ports import free_port

pytestmark = [pytest.mark.timeout(60), pytest.mark.redis]

SERVERS = ("py-a", "py-b", "node")
"""Two Baatcheet nodes and the Node server, named as the tests refer to them."""
RED = ("py-a-1", "py-b-1", "node-1")
"""The first client of each server joins room ``red``; the second joins nothing."""
EVERYONE = tuple(f"{server}-{index}" for server in SERVERS for index in (1, 2))


# -- origins: the same cluster operations, from a Python node or from the Node server -------


class Origin(Protocol):
    """Where a cluster operation starts."""

    name: str

    async def emit(
        self,
        event: str,
        *args: Any,
        to: Iterable[str] = (),
        but: Iterable[str] = (),
        nsp: str = "/",
    ) -> None: ...
    async def emit_with_ack(self, event: str, *args: Any, ack_timeout: float) -> list[Any]: ...
    async def sockets_join(self, rooms: list[str], *, to: Iterable[str]) -> None: ...
    async def sockets_leave(self, rooms: list[str], *, to: Iterable[str]) -> None: ...
    async def disconnect_sockets(self, *, to: Iterable[str]) -> None: ...
    async def fetch_sockets(self, *, to: Iterable[str] = ()) -> list[dict[str, Any]]: ...
    async def server_side_emit(self, event: str, *args: Any) -> None: ...
    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]: ...
    async def server_count(self, nsp: str = "/") -> int: ...
    async def all_rooms(self) -> set[str]: ...


@dataclass
class PythonOrigin:
    """Operations started on a Baatcheet node, through its public API."""

    name: str
    server: Server

    def _target(
        self, to: Iterable[str], but: Iterable[str] = (), nsp: str = "/"
    ) -> BroadcastOperator:
        operator: BroadcastOperator = self.server.of(nsp).to(list(to))
        return operator.except_(list(but))

    async def emit(
        self,
        event: str,
        *args: Any,
        to: Iterable[str] = (),
        but: Iterable[str] = (),
        nsp: str = "/",
    ) -> None:
        self._target(to, but, nsp).emit(event, *args)

    async def emit_with_ack(self, event: str, *args: Any, ack_timeout: float) -> list[Any]:
        return await self.server.timeout(ack_timeout).emit_with_ack(event, *args)

    async def sockets_join(self, rooms: list[str], *, to: Iterable[str]) -> None:
        self._target(to).sockets_join(rooms)

    async def sockets_leave(self, rooms: list[str], *, to: Iterable[str]) -> None:
        self._target(to).sockets_leave(rooms)

    async def disconnect_sockets(self, *, to: Iterable[str]) -> None:
        self._target(to).disconnect_sockets()

    async def fetch_sockets(self, *, to: Iterable[str] = ()) -> list[dict[str, Any]]:
        sockets = await self._target(to).fetch_sockets()
        return [
            {"id": s.id, "handshake": s.handshake, "rooms": sorted(s.rooms), "data": s.data}
            for s in sockets
        ]

    async def server_side_emit(self, event: str, *args: Any) -> None:
        await self.server.server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        return await self.server.server_side_emit_with_ack(event, *args, timeout=5)

    async def server_count(self, nsp: str = "/") -> int:
        count: int = await self.server.of(nsp).adapter.server_count()
        return count

    async def all_rooms(self) -> set[str]:
        return set(await self.server.main.adapter.all_rooms())


@dataclass
class NodeOrigin:
    """Operations started on the Node server, through its socket.io API."""

    name: str
    node: NodeClusterServer

    async def emit(
        self,
        event: str,
        *args: Any,
        to: Iterable[str] = (),
        but: Iterable[str] = (),
        nsp: str = "/",
    ) -> None:
        await self.node.command(
            "emit", nsp=nsp, to=list(to), event=event, args=list(args), **{"except": list(but)}
        )

    async def emit_with_ack(self, event: str, *args: Any, ack_timeout: float) -> list[Any]:
        outcome = await self.node.command(
            "emit_with_ack", timeout=round(ack_timeout * 1000), event=event, args=list(args)
        )
        if "error" in outcome:
            raise AckTimeoutError(event, ack_timeout, partial=outcome["responses"])
        responses: list[Any] = outcome["responses"]
        return responses

    async def sockets_join(self, rooms: list[str], *, to: Iterable[str]) -> None:
        await self.node.command("sockets_join", to=list(to), rooms=rooms)

    async def sockets_leave(self, rooms: list[str], *, to: Iterable[str]) -> None:
        await self.node.command("sockets_leave", to=list(to), rooms=rooms)

    async def disconnect_sockets(self, *, to: Iterable[str]) -> None:
        await self.node.command("disconnect_sockets", to=list(to), close=False)

    async def fetch_sockets(self, *, to: Iterable[str] = ()) -> list[dict[str, Any]]:
        sockets: list[dict[str, Any]] = await self.node.command("fetch_sockets", to=list(to))
        return [{**s, "rooms": sorted(s["rooms"])} for s in sockets]

    async def server_side_emit(self, event: str, *args: Any) -> None:
        await self.node.command("server_side_emit", event=event, args=list(args))

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        outcome = await self.node.command("server_side_emit_with_ack", event=event, args=list(args))
        assert "error" not in outcome, outcome
        responses: list[Any] = outcome["responses"]
        return responses

    async def server_count(self, nsp: str = "/") -> int:
        count: int = await self.node.command("server_count", nsp=nsp)
        return count

    async def all_rooms(self) -> set[str]:
        return set(await self.node.command("all_rooms"))


# -- the cluster ----------------------------------------------------------------------------


@dataclass
class Cluster:
    """Three servers on one Redis prefix, with two official clients on each."""

    prefix: str
    node: NodeClusterServer
    python: dict[str, Server]
    js: JsDriver
    clients: dict[str, JsClient] = field(default_factory=dict)
    sids: dict[str, str] = field(default_factory=dict)
    heard: dict[str, asyncio.Queue[list[Any]]] = field(default_factory=dict)
    """Server-side events each Python node's ``/`` listener got, in order."""

    def origin(self, name: str) -> Origin:
        if name == "node":
            return NodeOrigin(name, self.node)
        return PythonOrigin(name, self.python[name])

    def url(self, server: str) -> str:
        if server == "node":
            return self.node.url
        return f"http://127.0.0.1:{self.python[server].port}"

    async def connect(
        self, name: str, server: str, *, nsp: str = "/", rooms: Iterable[str] = ()
    ) -> JsClient:
        """A client named ``name`` on ``server``: auth carries its name, rooms and data."""
        client = await self.js.connect(
            self.url(server) + nsp,
            client_id=name,
            transports=["websocket"],
            reconnection=False,
            auth={"name": name, "rooms": list(rooms), "data": {"name": name, "server": server}},
            query={"who": name},
        )
        report = await client.wait("connect")
        self.clients[name] = client
        self.sids[name] = report["sid"]
        return client

    async def seen_before_marker(
        self, origin: Origin, event: str, names: Iterable[str] = EVERYONE
    ) -> dict[str, list[list[Any]]]:
        """What each client got of ``event`` before a marker the origin emits now."""
        await origin.emit("marker")
        seen: dict[str, list[list[Any]]] = {}
        for name in names:
            client = self.clients[name]
            await client.wait("event", name="marker")
            seen[name] = [
                report["args"]
                for report in client.history
                if report.get("kind") == "event" and report.get("name") == event
            ]
        return seen

    async def who_got(self, origin: Origin, event: str) -> set[str]:
        seen = await self.seen_before_marker(origin, event)
        for name, copies in seen.items():
            assert len(copies) <= 1, f"{name} got {event!r} {len(copies)} times"
        return {name for name, copies in seen.items() if copies}


def _configure(server: Server, name: str, heard: asyncio.Queue[list[Any]]) -> None:
    """Rooms and data from the client's auth (as the Node server does); a server-side listener."""

    def on_connection(socket: Socket) -> None:
        auth = socket.handshake.auth
        socket.join(auth.get("rooms", []))
        socket.data.update(auth.get("data", {}))

    for nsp in ("/", "/chat"):
        server.of(nsp).on("connection", on_connection)

    def on_ping(*args: Any) -> None:
        if args and callable(args[-1]):
            *rest, reply = args
            heard.put_nowait(rest)
            reply(f"pong from {name}")
        else:
            heard.put_nowait(list(args))

    server.on("ping-nodes", on_ping)


@pytest.fixture
async def cluster(redis_url: str, js: JsDriver) -> AsyncIterator[Cluster]:
    """The three servers, each with client ``<server>-1`` in room ``red`` and ``<server>-2``."""
    prefix = f"mixed-{secrets.token_hex(4)}"
    async with NodeClusterServer(redis_url, prefix=prefix, namespaces=["/chat"]) as node:
        await node.command("listen", event="ping-nodes", reply="pong from node")
        python: dict[str, Server] = {}
        heard: dict[str, asyncio.Queue[list[Any]]] = {}
        try:
            for name in ("py-a", "py-b"):
                settings = Settings(
                    port=free_port(),
                    redis_url=redis_url,
                    redis_prefix=prefix,
                    redis_requests_timeout_ms=3000,
                )
                server = Server(settings)
                heard[name] = asyncio.Queue()
                _configure(server, name, heard[name])
                await server.start()
                python[name] = server
            cluster = Cluster(prefix, node, python, js, heard=heard)
            for server_name in SERVERS:
                await cluster.connect(f"{server_name}-1", server_name, rooms=["red"])
                await cluster.connect(f"{server_name}-2", server_name)
            yield cluster
        finally:
            for server in python.values():
                await server.shutdown(grace=1.0)


async def _eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    """Poll ``check`` until it holds: Node applies its own socketsJoin only when Redis echoes it."""
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - other processes change what is checked
            await asyncio.sleep(0.02)


ORIGINS = pytest.mark.parametrize("origin_name", ["py-a", "node"])


# -- tests ----------------------------------------------------------------------------------


@ORIGINS
async def test_an_emit_to_everyone_reaches_every_client_on_every_node_with_binary_intact(
    cluster: Cluster, origin_name: str
) -> None:
    origin = cluster.origin(origin_name)
    await origin.emit("hello", 1, {"nested": [True, None, "ü"]}, b"\x00\x01\xff")
    for name in EVERYONE:
        assert await cluster.clients[name].next_event("hello") == [
            1,
            {"nested": [True, None, "ü"]},
            b"\x00\x01\xff",
        ]


@ORIGINS
async def test_to_a_room_reaches_its_members_on_every_node_and_no_one_else(
    cluster: Cluster, origin_name: str
) -> None:
    origin = cluster.origin(origin_name)
    await origin.emit("news", "red only", to=["red"])
    assert await cluster.who_got(origin, "news") == set(RED)


@ORIGINS
async def test_except_leaves_a_room_out_on_every_node(cluster: Cluster, origin_name: str) -> None:
    origin = cluster.origin(origin_name)
    await origin.emit("news", "not red", but=["red"])
    assert await cluster.who_got(origin, "news") == set(EVERYONE) - set(RED)


@ORIGINS
async def test_to_a_socket_id_reaches_that_socket_on_whichever_node_holds_it(
    cluster: Cluster, origin_name: str
) -> None:
    origin = cluster.origin(origin_name)
    targets = ["py-a-2", "py-b-2", "node-2"]
    for name in targets:
        await origin.emit("direct", name, to=[cluster.sids[name]])
    seen = await cluster.seen_before_marker(origin, "direct")
    assert seen == {name: [[name]] if name in targets else [] for name in EVERYONE}


@ORIGINS
async def test_sockets_join_and_leave_act_on_every_node(cluster: Cluster, origin_name: str) -> None:
    origin = cluster.origin(origin_name)
    red_sids = sorted(cluster.sids[name] for name in RED)

    async def members(room: str) -> list[str]:
        return sorted(s["id"] for s in await origin.fetch_sockets(to=[room]))

    await origin.sockets_join(["blue"], to=["red"])

    async def joined() -> bool:
        return await members("blue") == red_sids

    await _eventually(joined)
    await origin.emit("in blue", to=["blue"])
    assert await cluster.who_got(origin, "in blue") == set(RED)

    await origin.sockets_leave(["red"], to=["blue"])

    async def left() -> bool:
        return await members("red") == []

    await _eventually(left)
    await origin.emit("in red", to=["red"])
    assert await cluster.who_got(origin, "in red") == set()


@ORIGINS
async def test_disconnect_sockets_disconnects_the_selected_clients_on_every_node(
    cluster: Cluster, origin_name: str
) -> None:
    origin = cluster.origin(origin_name)
    await origin.disconnect_sockets(to=["red"])
    for name in RED:
        report = await cluster.clients[name].wait("disconnect")
        assert report["reason"] == "io server disconnect"
    others = [name for name in EVERYONE if name not in RED]
    await origin.emit("marker")
    for name in others:
        await cluster.clients[name].wait("event", name="marker")
        assert not any(r.get("kind") == "disconnect" for r in cluster.clients[name].history)


@ORIGINS
async def test_fetch_sockets_returns_the_handshake_rooms_and_data_of_every_node(
    cluster: Cluster, origin_name: str
) -> None:
    origin = cluster.origin(origin_name)
    sockets = {s["id"]: s for s in await origin.fetch_sockets()}
    assert sorted(sockets) == sorted(cluster.sids.values())
    for name, sid in cluster.sids.items():
        snapshot = sockets[sid]
        server = name.rsplit("-", 1)[0]
        assert snapshot["data"] == {"name": name, "server": server}
        assert snapshot["rooms"] == sorted([sid, "red"] if name in RED else [sid])
        handshake = snapshot["handshake"]
        assert handshake["auth"]["name"] == name
        assert handshake["query"]["who"] == name
        assert handshake["query"]["EIO"] == "4"
        assert handshake["address"] in ("127.0.0.1", "::ffff:127.0.0.1")
        assert handshake["secure"] is False
        assert isinstance(handshake["issued"], int)
        assert handshake["url"].startswith("/socket.io/?")
        assert isinstance(handshake["headers"], dict)
    reds = await origin.fetch_sockets(to=["red"])
    assert sorted(s["id"] for s in reds) == sorted(cluster.sids[name] for name in RED)


async def _python_heard(cluster: Cluster, name: str) -> list[Any]:
    return await asyncio.wait_for(cluster.heard[name].get(), 5)


@ORIGINS
async def test_server_side_emit_reaches_every_other_node_and_never_its_own(
    cluster: Cluster, origin_name: str
) -> None:
    origin = cluster.origin(origin_name)
    await origin.server_side_emit("ping-nodes", "hello", {"n": 1})
    await origin.server_side_emit("ping-nodes", "marker")
    for name in ("py-a", "py-b"):
        if name != origin_name:
            assert await _python_heard(cluster, name) == ["hello", {"n": 1}]
            assert await _python_heard(cluster, name) == ["marker"]
        else:
            assert cluster.heard[name].empty()
    if origin_name != "node":
        report = await cluster.node.wait("server_side", event="ping-nodes")
        assert report["args"] == ["hello", {"n": 1}]
        assert report["acked"] is False


@ORIGINS
async def test_server_side_emit_with_ack_gathers_one_answer_from_each_other_node(
    cluster: Cluster, origin_name: str
) -> None:
    origin = cluster.origin(origin_name)
    answers = await origin.server_side_emit_with_ack("ping-nodes", "are you there")
    assert sorted(answers) == sorted(f"pong from {name}" for name in SERVERS if name != origin_name)


@ORIGINS
async def test_emit_with_ack_gathers_every_clients_answer_on_every_node(
    cluster: Cluster, origin_name: str
) -> None:
    for name in EVERYONE:
        await cluster.clients[name].on_ack("poll", [{"name": name, "blob": b"\x07"}])
    answers = await cluster.origin(origin_name).emit_with_ack("poll", "vote", ack_timeout=5)
    assert sorted(answers, key=lambda a: a["name"]) == [
        {"name": name, "blob": b"\x07"} for name in sorted(EVERYONE)
    ]


@ORIGINS
async def test_emit_with_ack_times_out_with_the_answers_that_arrived(
    cluster: Cluster, origin_name: str
) -> None:
    silent = {"py-b-2", "node-2"}
    for name in EVERYONE:
        await cluster.clients[name].on_ack("poll", "never" if name in silent else [name])
    with pytest.raises(AckTimeoutError) as raised:
        await cluster.origin(origin_name).emit_with_ack("poll", ack_timeout=1)
    assert sorted(raised.value.partial) == sorted(set(EVERYONE) - silent)


@ORIGINS
async def test_every_node_counts_the_servers_and_sees_every_room(
    cluster: Cluster, origin_name: str
) -> None:
    origin = cluster.origin(origin_name)
    assert await origin.server_count() == 3
    assert await origin.server_count("/chat") == 3
    assert await origin.all_rooms() == {"red", *cluster.sids.values()}


@ORIGINS
async def test_a_namespace_is_clustered_apart_from_the_main_one(
    cluster: Cluster, origin_name: str
) -> None:
    chat = {
        server: await cluster.connect(f"chat-{server}", server, nsp="/chat") for server in SERVERS
    }
    origin = cluster.origin(origin_name)
    await origin.emit("in chat", 1, nsp="/chat")
    for client in chat.values():
        assert await client.next_event("in chat") == [1]
    assert await cluster.who_got(origin, "in chat") == set()


async def test_the_emitter_broadcasts_to_clients_on_every_node(cluster: Cluster) -> None:
    node = cluster.node
    await node.command("emitter_emit", event="announce", args=["all", b"\x01\x02"])
    for name in EVERYONE:
        assert await cluster.clients[name].next_event("announce") == ["all", b"\x01\x02"]
    await node.command("emitter_emit", to=["red"], event="red news", args=[])
    await node.command("emitter_emit", **{"except": ["red"]}, event="not red", args=[])
    await node.command("emitter_emit", event="marker", args=[])
    got_red, got_others = set(), set()
    for name in EVERYONE:
        await cluster.clients[name].wait("event", name="marker")
        events = {r.get("name") for r in cluster.clients[name].history if r.get("kind") == "event"}
        if "red news" in events:
            got_red.add(name)
        if "not red" in events:
            got_others.add(name)
    assert got_red == set(RED)
    assert got_others == set(EVERYONE) - set(RED)


async def test_the_emitter_joins_leaves_and_disconnects_sockets_on_every_node(
    cluster: Cluster,
) -> None:
    node, origin = cluster.node, cluster.origin("py-a")

    async def members(room: str) -> list[str]:
        return sorted(s["id"] for s in await origin.fetch_sockets(to=[room]))

    red_sids = sorted(cluster.sids[name] for name in RED)
    await node.command("emitter_sockets_join", to=["red"], rooms=["green"])

    async def joined() -> bool:
        return await members("green") == red_sids

    await _eventually(joined)
    await node.command("emitter_sockets_leave", to=["green"], rooms=["red"])

    async def left() -> bool:
        return await members("red") == []

    await _eventually(left)
    await node.command("emitter_disconnect_sockets", to=["green"], close=False)
    for name in RED:
        assert (await cluster.clients[name].wait("disconnect"))["reason"] == "io server disconnect"


async def test_the_emitters_server_side_emit_reaches_every_node(cluster: Cluster) -> None:
    await cluster.node.command(
        "emitter_server_side_emit", event="ping-nodes", args=["from emitter"]
    )
    for name in ("py-a", "py-b"):
        assert await _python_heard(cluster, name) == ["from emitter"]
    report = await cluster.node.wait("server_side", event="ping-nodes")
    assert report["args"] == ["from emitter"]
