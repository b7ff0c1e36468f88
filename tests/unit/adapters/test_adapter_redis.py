"""What only the Redis adapter has: its broker, bad input from Redis, outages and recovery.

Everything runs on the session's real redis-server. Outages are made with a TCP proxy in
front of it (``support.tcp_proxy``): the node behind the proxy loses Redis while Redis and
the other nodes carry on, as in a network partition or a Redis restart seen from one node.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from baatcheet._types import Room, SocketId
from baatcheet.adapters.adapter_redis import RedisAdapter
from baatcheet.adapters.base import AckCollector, BroadcastOptions, ServerSideReply, SocketSnapshot
from baatcheet.adapters.broker_redis import RedisBroker
from baatcheet.engine.frames import PreparedMessage
from baatcheet.errors import AckTimeoutError, ClusterUnavailableError
from baatcheet.proto.socketio import Packet, PacketType
from baatcheet.settings import Settings
from baatcheet.sio import Server
from support.ports import free_port
from support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.timeout(30), pytest.mark.redis]

NAMESPACE = "/outage"
BROKER_LOG = "baatcheet.adapters.broker_redis"
ADAPTER_LOG = "baatcheet.adapters.adapter_redis"


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

    def snapshot(self) -> SocketSnapshot:
        return SocketSnapshot(self.id, {}, frozenset(self.node.adapter.socket_rooms(self.id)))


@dataclass
class Node:
    """One server process: a broker of its own and one namespace's adapter."""

    broker: RedisBroker
    sockets: dict[SocketId, Socket] = field(default_factory=dict)
    adapter: RedisAdapter = field(init=False)
    answer: str = "pong"

    def __post_init__(self) -> None:
        self.adapter = RedisAdapter(NAMESPACE, self.sockets, self, self.broker)

    def on_server_side_emit(self, args: list[Any], reply: ServerSideReply | None) -> None:
        if reply is not None:
            reply(self.answer)

    def next_ack_id(self) -> int:
        return 1

    def broadcast_sent(self, fanout: int, size: int) -> None:
        del fanout, size

    def add_socket(self, sid: str) -> Socket:
        socket = Socket(SocketId(sid), self)
        self.sockets[socket.id] = socket
        self.adapter.add_all(socket.id, [Room(sid)])
        return socket


NodeMaker = Callable[..., Awaitable[Node]]


@pytest.fixture
def prefix() -> str:
    """A channel prefix of the test's own, so leftovers of other tests never count."""
    return f"unit-{secrets.token_hex(4)}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client, to publish what a broken or foreign peer would."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def make_node(prefix: str) -> AsyncIterator[NodeMaker]:
    """``await make_node(url, requests_timeout=…)``: a started node (closed after the test)."""
    nodes: list[Node] = []

    async def make(url: str, requests_timeout: float = 2.0) -> Node:
        broker = RedisBroker(
            url, prefix=prefix, requests_timeout=requests_timeout, health_interval=0.2
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


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    port = urlsplit(redis_url).port
    assert port is not None
    async with TcpProxy(port) as proxy:
        yield proxy


def _through(proxy: TcpProxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}/0"


def _event(*data: Any) -> Packet:
    return Packet(PacketType.EVENT, NAMESPACE, list(data))


async def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - other connections change what is checked
            await asyncio.sleep(0.01)


def _messages(caplog: pytest.LogCaptureFixture, logger: str, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and text in r.getMessage()]


async def test_a_broadcast_is_published_once_on_the_room_channel_for_one_room(
    make_node: NodeMaker, redis_url: str, redis: Redis, prefix: str
) -> None:
    node = await make_node(redis_url)
    for index in range(5):
        node.add_socket(f"s{index}")
    async with redis.pubsub() as spy:
        await spy.psubscribe(f"{prefix}#*")
        await spy.get_message(timeout=1)
        node.adapter.broadcast(_event("to all"), BroadcastOptions())
        node.adapter.broadcast(_event("one room"), BroadcastOptions(rooms=frozenset({Room("r")})))
        two_rooms = BroadcastOptions(rooms=frozenset({Room("r"), Room("q")}))
        node.adapter.broadcast(_event("two rooms"), two_rooms)
        channels: list[str] = []
        while len(channels) < 3:
            message = await spy.get_message(timeout=2)
            assert message is not None
            channels.append(message["channel"].decode())
        assert await spy.get_message(timeout=0.2) is None
    assert channels == [
        f"{prefix}#{NAMESPACE}#",
        f"{prefix}#{NAMESPACE}#r#",
        f"{prefix}#{NAMESPACE}#",
    ]
    assert all(len(s.received) == 1 for s in node.sockets.values())


async def test_every_namespace_of_a_server_shares_one_pubsub_connection(
    redis_url: str, redis: Redis, prefix: str
) -> None:
    before = len(await redis.client_list(_type="pubsub"))
    server = Server(Settings(port=free_port(), redis_url=redis_url, redis_prefix=prefix))
    for name in ("/a", "/b", "/c"):
        server.of(name)
    await server.start()
    try:
        assert len(await redis.client_list(_type="pubsub")) == before + 1
        for name in ("/", "/a", "/b", "/c"):
            assert await server.of(name).adapter.server_count() == 1
    finally:
        await server.shutdown(grace=0.5)
    assert len(await redis.client_list(_type="pubsub")) == before


async def test_a_server_will_not_start_on_a_redis_it_cannot_reach() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    server = Server(Settings(port=free_port(), redis_url=url, redis_requests_timeout_ms=1000))
    started = time.monotonic()
    with pytest.raises(ClusterUnavailableError, match="cannot reach Redis"):
        await server.start()
    assert time.monotonic() - started < 2


async def test_malformed_messages_are_logged_and_dropped_and_the_listener_goes_on(
    make_node: NodeMaker,
    redis_url: str,
    redis: Redis,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender, receiver = await make_node(redis_url), await make_node(redis_url)
    socket = receiver.add_socket("s1")
    garbage = {
        f"{prefix}#{NAMESPACE}#": b"\xc1 not msgpack",
        f"{prefix}-request#{NAMESPACE}#": b'{"type": 42}',
        f"{prefix}-response#{NAMESPACE}#": b'{"type":8,"requestId":"x","clientCount":-1}',
    }
    for channel, payload in garbage.items():
        await redis.publish(channel, payload)
    sender.adapter.broadcast(_event("still here"), BroadcastOptions())

    await _eventually(lambda: bool(socket.received))
    assert socket.received == [f'2{NAMESPACE},["still here"]']
    dropped = _messages(caplog, ADAPTER_LOG, "dropped a message")
    assert len(dropped) == 2 * len(garbage)  # each node drops each one
    assert await sender.adapter.server_count() == 2


async def test_an_outage_keeps_local_delivery_and_fails_cluster_calls_at_once(
    proxy: TcpProxy, make_node: NodeMaker, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cut_off, other = await make_node(_through(proxy)), await make_node(redis_url)
    local = cut_off.add_socket("local")
    remote = other.add_socket("remote")
    await proxy.cut()
    await _eventually(lambda: not cut_off.broker.available)

    cut_off.adapter.broadcast(_event("local only"), BroadcastOptions())
    assert local.received == [f'2{NAMESPACE},["local only"]']
    started = time.monotonic()
    for call in (
        cut_off.adapter.server_count(),
        cut_off.adapter.all_rooms(),
        cut_off.adapter.fetch_sockets(BroadcastOptions()),
        cut_off.adapter.server_side_emit(["ping"], with_ack=True),
        cut_off.adapter.server_side_emit(["hello"]),
    ):
        with pytest.raises(ClusterUnavailableError):
            await call
    assert time.monotonic() - started < 0.5
    assert remote.received == []
    assert len(_messages(caplog, BROKER_LOG, "is unreachable")) == 1


async def test_the_broker_reconnects_resubscribes_and_logs_the_recovery_once(
    proxy: TcpProxy, make_node: NodeMaker, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cut_off, other = await make_node(_through(proxy)), await make_node(redis_url)
    local, remote = cut_off.add_socket("local"), other.add_socket("remote")
    await proxy.cut()
    await _eventually(lambda: not cut_off.broker.available)
    await asyncio.sleep(0.5)  # several reconnection attempts fail meanwhile
    await proxy.restore()
    await _eventually(lambda: cut_off.broker.available)

    other.adapter.broadcast(_event("to the returning node"), BroadcastOptions())
    cut_off.adapter.broadcast(_event("from the returning node"), BroadcastOptions())
    await _eventually(lambda: len(local.received) == 2 and len(remote.received) == 2)
    assert await cut_off.adapter.server_count() == 2
    assert await cut_off.adapter.server_side_emit(["ping"], with_ack=True) == ["pong"]
    assert len(_messages(caplog, BROKER_LOG, "is unreachable")) == 1
    assert len(_messages(caplog, BROKER_LOG, "is reachable again")) == 1


async def test_a_slow_pong_is_not_an_outage_but_a_silent_redis_is(
    proxy: TcpProxy, make_node: NodeMaker, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The subscription is PINGed after 0.2 s of silence; Redis has ``requests_timeout``
    (2 s) to answer, so a slow link or a stalled event loop does not drop broadcasts."""
    slow, other = await make_node(_through(proxy)), await make_node(redis_url)
    local = slow.add_socket("local")
    proxy.latency = 0.6
    await asyncio.sleep(1.5)  # several PINGs, each answered after 0.6 s
    assert slow.broker.available
    other.adapter.broadcast(_event("through a slow link"), BroadcastOptions())
    await _eventually(lambda: local.received == [f'2{NAMESPACE},["through a slow link"]'])
    assert _messages(caplog, BROKER_LOG, "is unreachable") == []

    proxy.latency = 60  # Redis still holds the connection open but answers nothing
    started = time.monotonic()
    await _eventually(lambda: not slow.broker.available, seconds=5)
    assert 1.5 < time.monotonic() - started < 4
    assert len(_messages(caplog, BROKER_LOG, "is unreachable")) == 1


async def test_a_request_in_flight_fails_as_soon_as_redis_goes_away(
    proxy: TcpProxy, make_node: NodeMaker, redis_url: str, redis: Redis, prefix: str
) -> None:
    asking = await make_node(_through(proxy), requests_timeout=10)
    async with redis.pubsub() as mute_node:  # counted by NUMSUB, never answers
        await mute_node.subscribe(f"{prefix}-request#{NAMESPACE}#")
        fetch = asyncio.create_task(asking.adapter.fetch_sockets(BroadcastOptions()))
        await asyncio.sleep(0.2)
        assert not fetch.done()
        started = time.monotonic()
        await proxy.cut()
        with pytest.raises(ClusterUnavailableError):
            await fetch
        assert time.monotonic() - started < 1


async def test_nodes_that_do_not_answer_in_time_fail_the_request_or_leave_partial_answers(
    make_node: NodeMaker, redis_url: str, redis: Redis, prefix: str
) -> None:
    asking, answering = await make_node(redis_url, requests_timeout=0.5), await make_node(redis_url)
    answering.answer = "here"
    async with redis.pubsub() as mute_node:
        await mute_node.subscribe(f"{prefix}-request#{NAMESPACE}#")
        with pytest.raises(ClusterUnavailableError, match="1 of 2 other nodes answered"):
            await asking.adapter.fetch_sockets(BroadcastOptions())
        with pytest.raises(ClusterUnavailableError, match="1 of 2 other nodes answered"):
            await asking.adapter.all_rooms()
        with pytest.raises(AckTimeoutError) as raised:
            await asking.adapter.server_side_emit(["ping"], with_ack=True)
        assert raised.value.partial == ["here"]


async def test_a_broker_started_by_its_adapters_joins_the_cluster_once_redis_is_there(
    proxy: TcpProxy,
    make_node: NodeMaker,
    redis_url: str,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = await make_node(redis_url)
    await proxy.cut()
    late = Node(RedisBroker(_through(proxy), prefix=prefix, requests_timeout=2.0))
    try:
        await late.adapter.init()  # no connect(): an ASGI mount never calls Server.start
        assert not late.broker.available
        # Redis stays away until the broker has tried it and said so (once).
        await _eventually(lambda: bool(_messages(caplog, BROKER_LOG, "unreachable (")))
        await proxy.restore()
        await _eventually(lambda: late.broker.available)
        assert await late.adapter.server_count() == 2
        socket = late.add_socket("late")
        other.adapter.broadcast(_event("welcome"), BroadcastOptions())
        await _eventually(lambda: bool(socket.received))
    finally:
        await late.adapter.close()
        await late.broker.close()
    assert len(_messages(caplog, BROKER_LOG, "unreachable (")) == 1
