"""The Redis adapter's dynamic subscription modes: a node hears only the rooms it has members in.

Everything runs on the session's real redis-server. What a node's pub/sub connection is sent
is read from the broker's counters and from Redis itself (``PUBSUB CHANNELS`` /
``NUMSUB`` / ``NUMPAT``), so the tests see subscriptions as Redis sees them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgpack
import pytest
from redis.asyncio import Redis

from baatcheet._types import Room, SocketId
from baatcheet.adapters.adapter_redis import RedisAdapter
from baatcheet.adapters.base import AckCollector, BroadcastOptions, ServerSideReply, SocketSnapshot
from baatcheet.adapters.broker_redis import RedisBroker
from baatcheet.engine.frames import PreparedMessage
from baatcheet.proto.socketio import Packet, PacketType
from baatcheet.settings import RedisSubscription
from support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.timeout(30), pytest.mark.redis]

NAMESPACE = "/dyn"
CLASSIC = RedisSubscription.CLASSIC
DYNAMIC = RedisSubscription.DYNAMIC
PRIVATE = RedisSubscription.DYNAMIC_PRIVATE


@dataclass
class Socket:
    """A local socket that records the packets it is sent."""

    id: SocketId
    node: Node
    received: list[str] = field(default_factory=list)

    def deliver(self, message: PreparedMessage, volatile: bool) -> bool:
        del volatile
        self.received.append(str(message.parts[0]))
        return True

    def expect_ack(self, ack_id: int, collector: AckCollector) -> None:
        del ack_id, collector

    def join(self, rooms: Iterable[Room]) -> None:
        self.node.adapter.add_all(self.id, rooms)

    def leave(self, room: Room) -> None:
        self.node.adapter.delete(self.id, room)

    def disconnect(self, close: bool = False) -> None:
        del close
        self.node.remove(self.id)

    def snapshot(self) -> SocketSnapshot:
        return SocketSnapshot(self.id, {}, frozenset(self.node.adapter.socket_rooms(self.id)))


@dataclass
class Node:
    """One server process: a broker of its own and one namespace's adapter."""

    broker: RedisBroker
    sockets: dict[SocketId, Socket] = field(default_factory=dict)
    adapter: RedisAdapter = field(init=False)

    def __post_init__(self) -> None:
        self.adapter = RedisAdapter(NAMESPACE, self.sockets, self, self.broker)

    def on_server_side_emit(self, args: list[Any], reply: ServerSideReply | None) -> None:
        del args, reply

    def next_ack_id(self) -> int:
        return 1

    def broadcast_sent(self, fanout: int, size: int) -> None:
        del fanout, size

    def connect(self, name: str, *rooms: str) -> Socket:
        """A socket with a realistic id (20 characters) in ``rooms``."""
        socket = Socket(SocketId(name.ljust(20, "-")), self)
        self.sockets[socket.id] = socket
        self.adapter.add_all(socket.id, [Room(socket.id), *(Room(room) for room in rooms)])
        return socket

    def remove(self, sid: SocketId) -> None:
        """The socket disconnected: what the namespace does (rooms first, then the socket)."""
        self.adapter.delete_all(sid)
        self.sockets.pop(sid, None)


NodeMaker = Callable[..., Awaitable[Node]]


@pytest.fixture
def prefix() -> str:
    """A channel prefix of the test's own, so leftovers of other tests never count."""
    return f"dyn-{secrets.token_hex(4)}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client: asks Redis what is subscribed, publishes as a foreign peer would."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def make_node(prefix: str, redis_url: str) -> AsyncIterator[NodeMaker]:
    """``await make_node(mode, url=…)``: a started node (closed after the test)."""
    nodes: list[Node] = []

    async def make(subscription: RedisSubscription, url: str = redis_url) -> Node:
        broker = RedisBroker(
            url, prefix=prefix, requests_timeout=2.0, health_interval=0.2, subscription=subscription
        )
        await broker.connect()
        node = Node(broker)
        await node.adapter.init()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.adapter.close()
        await node.broker.close()


def _event(*data: Any) -> Packet:
    return Packet(PacketType.EVENT, NAMESPACE, list(data))


def _to(*rooms: str) -> BroadcastOptions:
    return BroadcastOptions(rooms=frozenset(Room(room) for room in rooms))


async def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - other connections change what is checked
            await asyncio.sleep(0.01)


async def _room_channels(redis: Redis, prefix: str) -> dict[str, int]:
    """Subscribed room channels of the namespace, with their subscriber counts."""
    head = f"{prefix}#{NAMESPACE}#"
    names = sorted(_text(name) for name in await redis.pubsub_channels(f"{prefix}#*"))
    rooms = [name for name in names if name.startswith(head) and name != head]
    counts = await redis.pubsub_numsub(*rooms) if rooms else []
    return {_text(name)[len(head) : -1]: int(count) for name, count in counts}


def _text(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else name


@pytest.mark.parametrize(("mode", "heard_by_outsider"), [(CLASSIC, 51), (DYNAMIC, 1)])
async def test_a_node_with_no_member_in_a_busy_room_receives_none_of_its_broadcasts(
    make_node: NodeMaker, mode: RedisSubscription, heard_by_outsider: int
) -> None:
    publisher, members, outsider = (
        await make_node(mode),
        await make_node(mode),
        await make_node(mode),
    )
    member_sockets = [
        members.connect("m1", "busy"),
        members.connect("m2", "busy", "quiet"),
        publisher.connect("p", "busy"),
    ]
    bystander = outsider.connect("bystander", "quiet")
    for node in (publisher, members, outsider):
        await node.broker.settled()
    before = outsider.broker.messages_received, outsider.broker.bytes_received

    for index in range(50):
        publisher.adapter.broadcast(_event("chatter", index, "x" * 100), _to("busy"))
    publisher.adapter.broadcast(_event("marker"), BroadcastOptions())

    await _eventually(lambda: bool(bystander.received))
    await _eventually(lambda: all(len(s.received) == 51 for s in member_sockets))
    assert bystander.received == [f'2{NAMESPACE},["marker"]']
    for socket in member_sockets:
        assert socket.received[:2] == [
            f'2{NAMESPACE},["chatter",0,"{"x" * 100}"]',
            f'2{NAMESPACE},["chatter",1,"{"x" * 100}"]',
        ]
    heard = outsider.broker.messages_received - before[0]
    assert heard == heard_by_outsider  # the marker, plus every chatter in classic mode
    if mode is DYNAMIC:
        assert outsider.broker.bytes_received - before[1] < 100


async def test_a_room_channel_is_subscribed_while_the_room_has_a_local_member(
    make_node: NodeMaker, redis: Redis, prefix: str
) -> None:
    node = await make_node(DYNAMIC)
    assert await redis.pubsub_numpat() == 0
    alice, bob = node.connect("alice", "red"), node.connect("bob")
    await node.broker.settled()
    assert await _room_channels(redis, prefix) == {"red": 1}

    bob.join([Room("red"), Room("blue")])
    await node.broker.settled()
    assert await _room_channels(redis, prefix) == {"red": 1, "blue": 1}

    alice.leave(Room("red"))
    await node.broker.settled()
    assert await _room_channels(redis, prefix) == {"red": 1, "blue": 1}

    bob.leave(Room("red"))
    await node.broker.settled()
    assert await _room_channels(redis, prefix) == {"blue": 1}

    bob.disconnect()
    await node.broker.settled()
    assert await _room_channels(redis, prefix) == {}
    main = f"{prefix}#{NAMESPACE}#"
    assert await redis.pubsub_numsub(main) == [(main.encode(), 1)]


async def test_a_room_joined_and_left_at_once_costs_redis_nothing_and_ends_right(
    make_node: NodeMaker, redis: Redis, prefix: str
) -> None:
    node = await make_node(DYNAMIC)
    socket = node.connect("flicker")
    for _ in range(3):
        socket.join([Room("brief")])
        socket.leave(Room("brief"))
    socket.join([Room("kept")])
    socket.leave(Room("kept"))
    socket.join([Room("kept")])
    await node.broker.settled()

    assert await _room_channels(redis, prefix) == {"kept": 1}


async def test_membership_changes_from_other_nodes_move_subscriptions_too(
    make_node: NodeMaker, redis: Redis, prefix: str
) -> None:
    asking, holding = await make_node(DYNAMIC), await make_node(DYNAMIC)
    holding.connect("s1", "red")
    far = holding.connect("s2")
    await holding.broker.settled()

    asking.adapter.add_sockets(_to("red"), [Room("blue")])
    await _eventually(
        lambda: Room("blue") in holding.adapter.socket_rooms(SocketId("s1".ljust(20, "-")))
    )
    await holding.broker.settled()
    assert await _room_channels(redis, prefix) == {"red": 1, "blue": 1}

    asking.adapter.disconnect_sockets(_to("blue"), close=False)
    await _eventually(lambda: len(holding.sockets) == 1)
    await holding.broker.settled()
    assert await _room_channels(redis, prefix) == {}
    assert list(holding.sockets) == [far.id]


@pytest.mark.parametrize(("mode", "channels"), [(DYNAMIC, {}), (PRIVATE, {"sock": 1})])
async def test_socket_ids_get_a_channel_only_in_dynamic_private_mode(
    make_node: NodeMaker,
    redis: Redis,
    prefix: str,
    mode: RedisSubscription,
    channels: dict[str, int],
) -> None:
    node = await make_node(mode)
    socket = node.connect("sock")
    await node.broker.settled()
    assert await _room_channels(redis, prefix) == {
        name.ljust(20, "-"): count for name, count in channels.items()
    }

    socket.disconnect()
    await node.broker.settled()
    assert await _room_channels(redis, prefix) == {}


@pytest.mark.parametrize(
    ("mode", "to_socket_channel"),
    [(CLASSIC, "socket"), (DYNAMIC, "namespace"), (PRIVATE, "socket")],
)
async def test_a_broadcast_to_one_socket_id_is_published_where_its_node_listens(
    make_node: NodeMaker, redis: Redis, prefix: str, mode: RedisSubscription, to_socket_channel: str
) -> None:
    sender, holder = await make_node(mode), await make_node(mode)
    target = holder.connect("target")
    await holder.broker.settled()
    main = f"{prefix}#{NAMESPACE}#"
    async with redis.pubsub() as spy:
        await spy.psubscribe(f"{prefix}#*")
        await spy.get_message(timeout=1)
        sender.adapter.broadcast(_event("direct"), _to(target.id))
        sender.adapter.broadcast(_event("to a room"), _to("red"))
        channels: list[str] = []
        while len(channels) < 2:
            message = await spy.get_message(timeout=2)
            assert message is not None
            channels.append(message["channel"].decode())

    assert channels == [
        f"{main}{target.id}#" if to_socket_channel == "socket" else main,
        f"{main}red#",
    ]
    await _eventually(lambda: bool(target.received))
    assert target.received == [f'2{NAMESPACE},["direct"]']


@pytest.mark.parametrize("mode", [DYNAMIC, PRIVATE])
async def test_classic_publishers_node_servers_and_emitters_reach_a_dynamic_node(
    make_node: NodeMaker, redis: Redis, prefix: str, mode: RedisSubscription
) -> None:
    classic, dynamic = await make_node(CLASSIC), await make_node(mode)
    member, outsider = dynamic.connect("member", "red"), dynamic.connect("outsider")
    await dynamic.broker.settled()

    classic.adapter.broadcast(_event("from a classic node"), _to("red"))
    # What @socket.io/redis-emitter publishes for emitter.to("red").emit("from the emitter").
    emitted = msgpack.packb(
        [
            "emitter",
            {"type": 2, "data": ["from the emitter"], "nsp": NAMESPACE},
            {"rooms": ["red"], "flags": {}, "except": []},
        ]
    )
    await redis.publish(f"{prefix}#{NAMESPACE}#red#", emitted)
    classic.adapter.broadcast(_event("marker"), BroadcastOptions())

    await _eventually(lambda: bool(outsider.received))
    await _eventually(lambda: len(member.received) == 3)
    # Two publishers on two Redis connections: their messages arrive in either order.
    assert sorted(member.received) == [
        f'2{NAMESPACE},["from a classic node"]',
        f'2{NAMESPACE},["from the emitter"]',
        f'2{NAMESPACE},["marker"]',
    ]
    assert outsider.received == [f'2{NAMESPACE},["marker"]']


async def test_room_channels_are_subscribed_again_after_redis_comes_back(
    make_node: NodeMaker, redis_url: str
) -> None:
    port = urlsplit(redis_url).port
    assert port is not None
    async with TcpProxy(port) as proxy:
        returning = await make_node(DYNAMIC, url=f"redis://127.0.0.1:{proxy.port}/0")
        other = await make_node(DYNAMIC)
        member = returning.connect("member", "red")
        await returning.broker.settled()
        await proxy.cut()
        await _eventually(lambda: not returning.broker.available)
        late = returning.connect("late", "blue")  # joined while Redis was away
        member.leave(Room("red"))
        member.join([Room("green")])
        await proxy.restore()
        await _eventually(lambda: returning.broker.available)
        await returning.broker.settled()

        for room in ("red", "blue", "green"):
            other.adapter.broadcast(_event("to", room), _to(room))
        other.adapter.broadcast(_event("marker"), BroadcastOptions())

        await _eventually(lambda: len(member.received) == 2 and len(late.received) == 2)
        assert member.received == [f'2{NAMESPACE},["to","green"]', f'2{NAMESPACE},["marker"]']
        assert late.received == [f'2{NAMESPACE},["to","blue"]', f'2{NAMESPACE},["marker"]']
