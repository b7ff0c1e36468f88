"""The adapter contract, run against every adapter: a cluster of nodes sharing one broker.

Each node is an adapter with its own local sockets (recipients that record what they are
sent). The in-memory adapter is a cluster of exactly one node; cluster adapters run the
same tests with several, so every operation is checked across nodes as well. The Redis
kinds build each node on its own broker (as separate processes would have) on the test
session's real redis-server, under a channel prefix of its own, once per subscription mode.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from baatcheet._types import Room, SocketId
from baatcheet.adapters.adapter_memory import MemoryAdapter
from baatcheet.adapters.adapter_redis import redis_adapter_factory
from baatcheet.adapters.base import (
    AckCollector,
    Adapter,
    AdapterFactory,
    BroadcastFlags,
    BroadcastOptions,
    ServerSideReply,
    SocketSnapshot,
)
from baatcheet.adapters.broker_redis import RedisBroker
from baatcheet.engine.frames import PreparedMessage
from baatcheet.proto.socketio import Packet, PacketType
from baatcheet.settings import RedisSubscription

pytestmark = pytest.mark.timeout(30)

NAMESPACE = "/contract"


@dataclass
class FakeSocket:
    """A local socket: records the text of every packet it is sent, answers acks on demand."""

    id: SocketId
    node: Node
    received: list[str] = field(default_factory=list)
    acks: dict[int, AckCollector] = field(default_factory=dict)
    disconnected: bool | None = None

    def deliver(self, message: PreparedMessage, volatile: bool) -> bool:
        del volatile
        self.received.append(str(message.parts[0]))
        return True

    def expect_ack(self, ack_id: int, collector: AckCollector) -> None:
        self.acks[ack_id] = collector

    def join(self, rooms: Iterable[Room]) -> None:
        self.node.adapter.add_all(self.id, rooms)

    def leave(self, room: Room) -> None:
        self.node.adapter.delete(self.id, room)

    def disconnect(self, close: bool = False) -> None:
        self.disconnected = close
        self.node.adapter.delete_all(self.id)
        self.node.sockets.pop(self.id, None)

    def snapshot(self) -> SocketSnapshot:
        return SocketSnapshot(
            self.id,
            {"auth": {}, "query": {}},
            frozenset(self.node.adapter.socket_rooms(self.id)),
            {"node": self.node.name},
        )


@dataclass
class Node:
    """One server process's view: its adapter, its sockets, its server-side listener."""

    name: str
    sockets: dict[SocketId, FakeSocket] = field(default_factory=dict)
    server_side: list[list[Any]] = field(default_factory=list)
    answer: Any = None
    fanouts: list[int] = field(default_factory=list)
    """What the adapter reported of each local fan-out (``broadcast_sent``)."""
    adapter: Adapter = field(init=False)
    settle: Settler = field(init=False)
    """Waits until the node hears the broadcasts of every room it has members in."""
    _ack_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def next_ack_id(self) -> int:
        return next(self._ack_ids)

    def broadcast_sent(self, fanout: int, size: int) -> None:
        self.fanouts.append(fanout)
        del size

    def on_server_side_emit(self, args: list[Any], reply: ServerSideReply | None) -> None:
        self.server_side.append(args)
        if reply is not None:
            reply(self.answer)

    def add_socket(self, sid: str, *rooms: str) -> FakeSocket:
        socket = FakeSocket(SocketId(sid), self)
        self.sockets[socket.id] = socket
        self.adapter.add_all(socket.id, [Room(sid), *(Room(room) for room in rooms)])
        return socket


ClusterMaker = Callable[[int], Awaitable[list[Node]]]
Closer = Callable[[], Awaitable[None]]
Settler = Callable[[], Awaitable[None]]
NodeFactory = Callable[[pytest.FixtureRequest], Awaitable[tuple[AdapterFactory, Closer, Settler]]]
"""Builds what one node needs (its adapter factory), how to release it, how to settle it."""


@dataclass
class AdapterKind:
    """How to build one node of a kind of adapter, and how many nodes the kind can form."""

    open_node: NodeFactory
    max_nodes: int


async def _nothing() -> None:
    return None


async def _memory_node(
    request: pytest.FixtureRequest,
) -> tuple[AdapterFactory, Closer, Settler]:
    del request
    return MemoryAdapter, _nothing, _nothing


_REDIS_PREFIXES: dict[str, str] = {}


def _redis_node(subscription: RedisSubscription) -> NodeFactory:
    async def open_node(
        request: pytest.FixtureRequest,
    ) -> tuple[AdapterFactory, Closer, Settler]:
        """A node with a broker of its own; the nodes of one test share a channel prefix."""
        url = request.getfixturevalue("redis_url")
        prefix = _REDIS_PREFIXES.setdefault(request.node.nodeid, f"contract-{secrets.token_hex(4)}")
        broker = RedisBroker(url, prefix=prefix, requests_timeout=3.0, subscription=subscription)
        await broker.connect()
        return redis_adapter_factory(broker), broker.close, broker.settled

    return open_node


KINDS = {
    "memory": AdapterKind(_memory_node, max_nodes=1),
    "redis": AdapterKind(_redis_node(RedisSubscription.CLASSIC), max_nodes=3),
    "redis-dynamic": AdapterKind(_redis_node(RedisSubscription.DYNAMIC), max_nodes=3),
    "redis-dynamic-private": AdapterKind(
        _redis_node(RedisSubscription.DYNAMIC_PRIVATE), max_nodes=3
    ),
}


@pytest.fixture(params=sorted(KINDS))
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[tuple[ClusterMaker, int]]:
    """``(make, max_nodes)``: ``await make(n)`` builds and initialises ``n`` nodes."""
    kind = KINDS[request.param]
    made: list[Node] = []
    closers: list[Closer] = []

    async def make(count: int) -> list[Node]:
        nodes = []
        for index in range(count):
            factory, close, settle = await kind.open_node(request)
            closers.append(close)
            node = Node(f"node{len(made) + index}")
            node.adapter = factory(NAMESPACE, node.sockets, node)
            node.settle = settle
            await node.adapter.init()
            nodes.append(node)
        made.extend(nodes)
        return nodes

    yield make, kind.max_nodes
    for node in made:
        await node.adapter.close()
    for close in closers:
        await close()


def _event(*data: Any, ack_id: int | None = None) -> Packet:
    return Packet(PacketType.EVENT, NAMESPACE, list(data), ack_id)


async def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until ``check()`` holds: cluster delivery is asynchronous by design."""
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - remote nodes change this state, no event to await
            await asyncio.sleep(0.01)


async def _all_nodes(cluster: tuple[ClusterMaker, int]) -> list[Node]:
    make, max_nodes = cluster
    return await make(min(max_nodes, 2))


async def _settled(nodes: list[Node]) -> None:
    """Wait until every node hears the broadcasts of the rooms its sockets are in.

    In a dynamic subscription mode a node subscribes a room's channel when the room gets
    its first local member, and hears it once Redis applied that: about one round trip
    after the join. The other kinds have nothing to wait for.
    """
    for node in nodes:
        await node.settle()


async def test_a_broadcast_reaches_every_selected_socket_on_every_node_once(
    cluster: tuple[ClusterMaker, int],
) -> None:
    nodes = await _all_nodes(cluster)
    inside = [node.add_socket(f"in-{node.name}", "red") for node in nodes]
    excluded = [node.add_socket(f"ex-{node.name}", "red", "muted") for node in nodes]
    outside = [node.add_socket(f"out-{node.name}") for node in nodes]
    await _settled(nodes)

    nodes[0].adapter.broadcast(
        _event("hello", 1),
        BroadcastOptions(rooms=frozenset({Room("red")}), except_rooms=frozenset({Room("muted")})),
    )

    await _eventually(lambda: all(socket.received for socket in inside))
    nodes[0].adapter.broadcast(_event("marker"), BroadcastOptions())
    await _eventually(lambda: all(len(socket.received) == 1 for socket in outside))
    for socket in inside:
        assert socket.received == ['2/contract,["hello",1]', '2/contract,["marker"]']
    for socket in [*excluded, *outside]:
        assert socket.received == ['2/contract,["marker"]']


async def test_a_socket_id_is_a_room_on_whichever_node_holds_it(
    cluster: tuple[ClusterMaker, int],
) -> None:
    nodes = await _all_nodes(cluster)
    # Ids as long as real ones (20 characters): dynamic mode knows a socket id by its length.
    target = nodes[-1].add_socket("target".ljust(20, "-"))
    bystander = nodes[0].add_socket("bystander".ljust(20, "-"))
    await _settled(nodes)

    nodes[0].adapter.broadcast(
        _event("direct"), BroadcastOptions(rooms=frozenset({Room(target.id)}))
    )

    await _eventually(lambda: bool(target.received))
    assert target.received == ['2/contract,["direct"]']
    assert bystander.received == []


async def test_a_local_broadcast_stays_on_its_node(cluster: tuple[ClusterMaker, int]) -> None:
    nodes = await _all_nodes(cluster)
    sockets = [node.add_socket(f"s-{node.name}") for node in nodes]
    local = BroadcastOptions(flags=BroadcastFlags(local=True))

    nodes[0].adapter.broadcast(_event("here only"), local)
    nodes[0].adapter.broadcast(_event("everywhere"), BroadcastOptions())

    await _eventually(lambda: all(socket.received for socket in sockets))
    assert sockets[0].received == ['2/contract,["here only"]', '2/contract,["everywhere"]']
    for socket in sockets[1:]:
        assert socket.received == ['2/contract,["everywhere"]']


async def test_each_node_reports_its_local_fan_out_once_per_broadcast(
    cluster: tuple[ClusterMaker, int],
) -> None:
    nodes = await _all_nodes(cluster)
    for node in nodes:
        node.add_socket(f"a-{node.name}", "red")
        node.add_socket(f"b-{node.name}", "red")
        node.add_socket(f"c-{node.name}")
    await _settled(nodes)

    nodes[0].adapter.broadcast(_event("to red"), BroadcastOptions(rooms=frozenset({Room("red")})))
    await _eventually(lambda: all(node.fanouts for node in nodes))
    nodes[0].adapter.broadcast(_event("marker"), BroadcastOptions())

    await _eventually(lambda: all(len(node.fanouts) == 2 for node in nodes))
    for node in nodes:
        assert node.fanouts == [2, 3]


async def test_fetch_sockets_returns_snapshots_from_every_node(
    cluster: tuple[ClusterMaker, int],
) -> None:
    nodes = await _all_nodes(cluster)
    for node in nodes:
        node.add_socket(f"a-{node.name}", "red")
        node.add_socket(f"b-{node.name}")

    everyone = await nodes[0].adapter.fetch_sockets(BroadcastOptions())
    reds = await nodes[0].adapter.fetch_sockets(BroadcastOptions(rooms=frozenset({Room("red")})))

    assert sorted(snapshot.id for snapshot in everyone) == sorted(
        sid for node in nodes for sid in node.sockets
    )
    assert {snapshot.id: snapshot.data["node"] for snapshot in reds} == {
        f"a-{node.name}": node.name for node in nodes
    }
    for snapshot in reds:
        assert snapshot.rooms == {snapshot.id, "red"}


async def test_sockets_join_leave_and_disconnect_act_on_every_node(
    cluster: tuple[ClusterMaker, int],
) -> None:
    nodes = await _all_nodes(cluster)
    members = [node.add_socket(f"m-{node.name}", "red") for node in nodes]
    others = [node.add_socket(f"o-{node.name}") for node in nodes]
    red = BroadcastOptions(rooms=frozenset({Room("red")}))

    nodes[0].adapter.add_sockets(red, [Room("blue")])
    await _eventually(
        lambda: all(
            Room("blue") in socket.node.adapter.socket_rooms(socket.id) for socket in members
        )
    )
    nodes[0].adapter.del_sockets(red, [Room("red")])
    await _eventually(
        lambda: all(Room("red") not in s.node.adapter.socket_rooms(s.id) for s in members)
    )
    nodes[0].adapter.disconnect_sockets(BroadcastOptions(rooms=frozenset({Room("blue")})), True)
    await _eventually(lambda: all(socket.disconnected is True for socket in members))

    assert all(socket.disconnected is None for socket in others)
    assert all(Room("blue") not in s.node.adapter.socket_rooms(s.id) for s in others)


async def test_server_count_and_all_rooms_cover_every_node(
    cluster: tuple[ClusterMaker, int],
) -> None:
    nodes = await _all_nodes(cluster)
    for node in nodes:
        node.add_socket(f"s-{node.name}", f"room-{node.name}")

    assert await nodes[0].adapter.server_count() == len(nodes)
    assert await nodes[0].adapter.all_rooms() == {
        Room(name) for node in nodes for name in (f"s-{node.name}", f"room-{node.name}")
    }


async def test_an_acked_broadcast_reports_a_client_count_per_node_and_every_answer(
    cluster: tuple[ClusterMaker, int],
) -> None:
    nodes = await _all_nodes(cluster)
    sockets = [node.add_socket(f"s-{node.name}") for node in nodes]
    counts: list[int] = []
    answers: list[list[Any]] = []

    nodes[0].adapter.broadcast_with_ack(
        _event("poll", ack_id=7),
        BroadcastOptions(flags=BroadcastFlags(timeout_ms=2000)),
        counts.append,
        answers.append,
    )
    # The sender's socket is asked with the sender's id; other nodes use ids of their own.
    await _eventually(lambda: all(socket.acks for socket in sockets))
    assert 7 in sockets[0].acks
    for socket in sockets:
        (collector,) = socket.acks.values()
        collector([f"yes from {socket.id}"])

    await _eventually(lambda: len(answers) == len(sockets))
    assert counts == [1] * len(nodes)
    assert sorted(answers) == sorted([f"yes from {socket.id}"] for socket in sockets)
    assert await nodes[0].adapter.server_count() == len(counts)


async def test_server_side_emit_reaches_the_other_nodes_and_gathers_their_answers(
    cluster: tuple[ClusterMaker, int],
) -> None:
    nodes = await _all_nodes(cluster)
    for node in nodes:
        node.answer = f"answer of {node.name}"

    await nodes[0].adapter.server_side_emit(["hello", 1])
    answers = await nodes[0].adapter.server_side_emit(["ping"], with_ack=True)

    await _eventually(lambda: all(len(node.server_side) == 2 for node in nodes[1:]))
    assert nodes[0].server_side == []  # never to itself
    for node in nodes[1:]:
        assert node.server_side == [["hello", 1], ["ping"]]
    assert sorted(answers) == sorted(f"answer of {node.name}" for node in nodes[1:])
