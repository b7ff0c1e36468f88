"""Presence shared by several nodes on one real Redis: counts, sweeping, resync, outages."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from baatcheet.chat.presence import PresenceChange
from baatcheet.chat.presence_redis import RedisPresence
from baatcheet.errors import ClusterUnavailableError
from baatcheet.store import User
from support.presencekit import Recorder, off, on
from support.tcp_proxy import TcpProxy

ADA, BOB = User(1, "ada"), User(2, "bob")

pytestmark = [pytest.mark.timeout(30), pytest.mark.redis]

TTL_S = 0.6
"""Short, so a silent node is swept within a second: beats every 0.2 s."""


@dataclass
class Node:
    presence: RedisPresence
    listener: Recorder


NodeMaker = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_node(redis_url: str) -> AsyncIterator[NodeMaker]:
    """``await make_node(url=…)``: a started presence node of one cluster (closed after)."""
    prefix = f"unit-{secrets.token_hex(4)}"
    nodes: list[Node] = []

    async def make(url: str = redis_url) -> Node:
        client = Redis.from_url(
            url, decode_responses=True, socket_timeout=1, socket_connect_timeout=1
        )
        node = Node(RedisPresence(client, prefix=prefix, ttl_s=TTL_S), Recorder())
        await node.presence.start(node.listener)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.presence.close()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    port = urlsplit(redis_url).port
    assert port is not None
    async with TcpProxy(port) as proxy:
        yield proxy


def _through(proxy: TcpProxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}/0"


async def _reported(node: Node, count: int, seconds: float) -> list[PresenceChange]:
    """The first ``count`` changes the node's listener got, waiting at most ``seconds``."""
    async with asyncio.timeout(seconds):
        while len(node.listener.changes) < count:  # noqa: ASYNC110 - the heartbeat reports
            await asyncio.sleep(0.01)
    return node.listener.changes[:count]


async def _next_beats(nodes: list[Node], redis_url: str) -> None:
    """Return once every node has pushed its deadline back since this was called."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = {node.presence.node_id: node.presence for node in nodes}
        base = next(iter(keys.values()))._base
        before = {node_id: await client.zscore(f"{base}:nodes", node_id) for node_id in keys}
        async with asyncio.timeout(3 * TTL_S):
            for node_id, deadline in before.items():
                while await client.zscore(f"{base}:nodes", node_id) == deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
    finally:
        await client.aclose()


async def test_a_user_on_two_nodes_is_online_once_and_offline_with_their_last_socket(
    make_node: NodeMaker,
) -> None:
    first, second = await make_node(), await make_node()
    assert await first.presence.connect(ADA, [10]) == [on(10, ADA)]
    assert await second.presence.connect(ADA, [10]) == []
    assert await second.presence.online(10) == [ADA]
    assert await first.presence.disconnect(ADA) == []
    assert await second.presence.disconnect(ADA) == [off(10, ADA)]
    assert await first.presence.online(10) == []


async def test_a_join_made_on_another_node_shows_a_user_connected_elsewhere(
    make_node: NodeMaker,
) -> None:
    first, second = await make_node(), await make_node()
    zoe = User(3, "zoë.ü-_")  # usernames pass through the scripts as they are
    await first.presence.connect(zoe, [])
    assert await second.presence.join(10, zoe) == [on(10, zoe)]
    assert await second.presence.online(10) == [zoe]
    assert await first.presence.disconnect(zoe) == [off(10, zoe)]


async def test_a_silent_node_is_swept_within_the_ttl_and_reported_once_then_resyncs(
    make_node: NodeMaker, proxy: TcpProxy, redis_url: str
) -> None:
    watchers = [await make_node(), await make_node()]
    cut_off = await make_node(_through(proxy))
    await cut_off.presence.connect(ADA, [10])
    await cut_off.presence.join(11, ADA)  # e.g. put there by another node's room:create
    await proxy.cut()
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(TTL_S + 1):
        while not any(watcher.listener.changes for watcher in watchers):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert loop.time() - started <= TTL_S + 0.2
    # Both watchers beat again after the sweep: a second report would have come by then.
    await _next_beats(watchers, redis_url)
    quiet, reporter = sorted((watcher.listener.changes for watcher in watchers), key=len)
    assert quiet == []
    assert len(reporter) == 2
    assert set(reporter) == {off(10, ADA), off(11, ADA)}
    assert await watchers[0].presence.online(10) == []

    # Back on the network, the node finds its entry gone and writes its state again.
    cut_off.listener.rooms = {ADA.id: frozenset({10, 11})}
    await proxy.restore()
    assert set(await _reported(cut_off, 2, 3 * TTL_S + 2)) == {on(10, ADA), on(11, ADA)}
    assert await watchers[1].presence.online(11) == [ADA]


async def test_calls_during_an_outage_return_at_once_and_are_caught_up_afterwards(
    make_node: NodeMaker, proxy: TcpProxy
) -> None:
    node = await make_node(_through(proxy))
    await node.presence.connect(ADA, [10])
    await proxy.cut()
    with pytest.raises(ClusterUnavailableError):
        await node.presence.online(10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await node.presence.disconnect(ADA) == []
    assert await node.presence.connect(BOB, [10]) == []
    assert loop.time() - started < 0.1
    node.listener.rooms = {BOB.id: frozenset({10})}
    await proxy.restore()
    assert set(await _reported(node, 2, 3 * TTL_S + 2)) == {off(10, ADA), on(10, BOB)}
    assert await node.presence.online(10) == [BOB]


async def test_a_closed_node_is_taken_offline_by_the_next_sweep_of_another(
    make_node: NodeMaker,
) -> None:
    watcher, leaving = await make_node(), await make_node()
    await leaving.presence.connect(BOB, [10])
    await leaving.presence.close()
    assert await _reported(watcher, 1, TTL_S) == [off(10, BOB)]
    assert await leaving.presence.connect(ADA, [10]) == []  # closed: reports nothing
