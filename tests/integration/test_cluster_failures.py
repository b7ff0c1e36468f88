"""Failure drills: a cluster node killed, and Redis restarted, under chat traffic.

Real ``baatcheet serve`` processes share one PostgreSQL database and one Redis, behind
nginx (round robin, as docs/how-to/operations.md recommends). Official JS clients connected
through nginx over WebSocket, with reconnection on, send acknowledged messages into a shared
room all along, resending a message whose ack did not come with the same ``clientId`` (as
the web client does). A few more clients are connected straight to one node each, so the
drill knows where they are: they watch presence and carry marker messages from one node to
another. Absence is shown with markers too (a later message from the same node arrived, the
earlier one did not), never with a sleep.

What the drills guarantee (docs/how-to/cluster.md, "Failure drills"):

* a node killed with SIGKILL: its clients are back on another node within seconds, its users
  are shown offline within ``presence_ttl_s``, the other nodes keep talking, and every
  acknowledged message is in the database exactly once;
* Redis restarted: each node keeps delivering to its own clients and acknowledging messages,
  cross-node broadcasts are dropped (not replayed) while it is away and resume within
  seconds of its return, and no acknowledged message is lost.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from baatcheet.errors import AckTimeoutError
from baatcheet.store.migrate import upgrade
from baatcheet.store.schema import messages
from support.balancer import Nginx
from support.cluster_node import ClusterNode
from support.jsclient import JsClient, JsDriver
from support.redis_process import RedisProcess

PASSWORD = "correct horse battery"
PRESENCE_TTL_S = 3.0
SENDERS = 6
NODE_START_S = 90.0
"""Not timed by the drills: on a loaded machine importing the server alone takes seconds."""
RESUME_WITHIN_S = 10.0
"""Cross-node broadcasts are back this soon after Redis is (its reconnect backoff is ≤ 5 s)."""

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(NODE_START_S + 90)]


@dataclass
class User:
    """A registered account: what a client needs to connect, and what events carry."""

    id: int
    name: str
    token: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.name}


@dataclass
class Sender:
    """One user behind the balancer sending numbered messages, and what was acknowledged."""

    client: JsClient
    user: User
    acked: dict[str, int] = field(default_factory=dict)
    """Message id by ``clientId``, for every message whose ack said ok."""

    async def run(self, room_id: int, stop: asyncio.Event) -> None:
        number = 0
        while not stop.is_set():
            number += 1
            client_id = f"{self.user.name}-{number}"
            payload = {"roomId": room_id, "body": f"message {number}", "clientId": client_id}
            while True:  # the same message until it is acknowledged
                try:
                    [answer] = await self.client.emit_with_ack("message:send", payload, timeout=3)
                except AckTimeoutError:
                    continue
                if answer["ok"]:
                    self.acked[client_id] = answer["id"]
                    break
                assert answer["error"]["code"] == "unavailable", answer
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.05)  # pacing: steady traffic, not a benchmark

    def connects(self) -> int:
        return sum(report["kind"] == "connect" for report in self.client.history)


@dataclass
class Cluster:
    """The nodes, nginx in front of them, the shared room and the senders' traffic."""

    nodes: list[ClusterNode]
    balancer: Nginx
    room_id: int = 0
    senders: list[Sender] = field(default_factory=list)
    traffic: list[asyncio.Future[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def user(self, prefix: str) -> User:
        name = f"{prefix}_{secrets.token_hex(4)}"
        async with httpx.AsyncClient(base_url=self.nodes[-1].url, timeout=10) as http:
            answer = await http.post(
                "/api/auth/register", json={"username": name, "password": PASSWORD}
            )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return User(body["user"]["id"], name, body["accessToken"])

    async def on_node(self, js: JsDriver, index: int, prefix: str) -> tuple[User, JsClient]:
        """A user connected straight to node ``index`` (no reconnection), in the room."""
        user = await self.user(prefix)
        client = await js.connect(
            f"{self.nodes[index].url}/chat",
            auth={"token": user.token},
            transports=["websocket"],
            reconnection=False,
        )
        await client.wait("connect")
        await _ok(client, "room:join", {"roomId": self.room_id})
        return user, client

    async def start_traffic(self, js: JsDriver) -> None:
        """Create the room, connect the senders through the balancer, start them sending."""
        users = [await self.user("sender") for _ in range(SENDERS)]
        # One after the other, so round robin spreads them evenly over the nodes.
        for user in users:
            client = await js.connect(
                f"{self.balancer.url}/chat",
                auth={"token": user.token},
                transports=["websocket"],
                reconnection_delay=200,
                reconnection_delay_max=1000,
            )
            await client.wait("connect")
            self.senders.append(Sender(client, user))
        first, *others = self.senders
        created = await _ok(first.client, "room:create", {"name": "drill", "kind": "public"})
        self.room_id = created["room"]["id"]
        for sender in others:
            await _ok(sender.client, "room:join", {"roomId": self.room_id})
        self.traffic = [
            asyncio.ensure_future(sender.run(self.room_id, self.stop)) for sender in self.senders
        ]

    async def all_send_more(self, count: int, within: float) -> None:
        """Every sender has ``count`` more messages acknowledged within ``within`` s."""
        marks = [len(sender.acked) for sender in self.senders]

        def progress() -> list[int]:
            return [len(s.acked) - m for s, m in zip(self.senders, marks, strict=True)]

        await _until(
            lambda: min(progress()) >= count, within, lambda: f"acks per sender: {progress()}"
        )

    async def finish_traffic(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.traffic), 30)

    def logs(self) -> str:
        return "\n".join(f"--- node {i + 1}:\n{n.log()}" for i, n in enumerate(self.nodes))


@asynccontextmanager
async def _cluster(
    tmp_path: Path, count: int, database_url: str, redis_url: str
) -> AsyncIterator[Cluster]:
    """``count`` nodes on one database and Redis (a cluster prefix of their own), behind
    nginx; every process is stopped on the way out, whatever happened."""
    env = {
        "BAATCHEET_DATABASE_URL": database_url,
        "BAATCHEET_REDIS_URL": redis_url,
        "BAATCHEET_REDIS_PREFIX": f"drill-{secrets.token_hex(4)}",
        "BAATCHEET_PRESENCE_TTL_S": str(PRESENCE_TTL_S),
        "BAATCHEET_LOG_LEVEL": "warning",
    }
    nodes = []
    for index in range(count):
        data = tmp_path / f"node{index + 1}"
        data.mkdir()
        nodes.append(ClusterNode(data, env=env))
    engine = create_async_engine(database_url)
    try:
        await upgrade(engine)  # here, once, rather than by every node at the same time
    finally:
        await engine.dispose()
    async with AsyncExitStack() as stack:
        for node in nodes:
            stack.callback(node.stop)
            node.spawn()
        for node in nodes:
            await asyncio.to_thread(node.wait_ready, NODE_START_S)
        balancer = stack.enter_context(Nginx(tmp_path / "nginx", [n.port for n in nodes]))
        cluster = Cluster(nodes, balancer)
        try:
            yield cluster
        finally:
            for task in cluster.traffic:
                task.cancel()
            await asyncio.gather(*cluster.traffic, return_exceptions=True)


async def _ok(client: JsClient, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    [answer] = await client.emit_with_ack(event, payload)
    assert isinstance(answer, dict) and answer.get("ok") is True, answer
    return answer


async def _until(
    condition: Callable[[], bool], seconds: float, what: Callable[[], str] = lambda: ""
) -> float:
    """Poll ``condition`` until it holds; return how long that took (fail after ``seconds``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(seconds):
            while not condition():  # noqa: ASYNC110 - the driver's reports arrive on their own
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {seconds:g} s: {what()}") from None
    return loop.time() - started


def _bodies(client: JsClient) -> list[str]:
    """The bodies of the ``message:new`` events the client got, in order."""
    return [
        report["args"][0]["body"]
        for report in client.history
        if report.get("kind") == "event" and report.get("name") == "message:new"
    ]


async def _marker(
    cluster: Cluster, sender: JsClient, receiver: JsClient, within: float = 5.0
) -> float:
    """Send a unique message from ``sender``; return how soon ``receiver`` got it."""
    body = f"marker {secrets.token_hex(4)}"
    client_id = f"marker-{secrets.token_hex(4)}"
    await _ok(
        sender, "message:send", {"roomId": cluster.room_id, "body": body, "clientId": client_id}
    )
    return await _until(lambda: body in _bodies(receiver), within, receiver.describe)


async def _stored(database_url: str, room_id: int) -> dict[tuple[int, str], list[int]]:
    """Message ids by (author, clientId) in the room: a list, to see duplicates."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(messages.c.author_id, messages.c.client_id, messages.c.id).where(
                    messages.c.room_id == room_id
                )
            )
            stored: dict[tuple[int, str], list[int]] = {}
            for author_id, client_id, message_id in rows:
                stored.setdefault((author_id, client_id), []).append(message_id)
            return stored
    finally:
        await engine.dispose()


async def _assert_every_ack_stored_once(cluster: Cluster, database_url: str) -> int:
    stored = await _stored(database_url, cluster.room_id)
    total = 0
    for sender in cluster.senders:
        for client_id, message_id in sender.acked.items():
            assert stored.get((sender.user.id, client_id)) == [message_id], client_id
            total += 1
    return total


async def test_a_node_killed_under_traffic_loses_no_acknowledged_message(
    tmp_path: Path, postgres_url: str, redis_url: str, js: JsDriver
) -> None:
    loop = asyncio.get_running_loop()
    async with _cluster(tmp_path, 3, postgres_url, redis_url) as cluster:
        began = loop.time()
        await cluster.start_traffic(js)
        leaver, on_one = await cluster.on_node(js, 0, "leaver")
        _, on_two = await cluster.on_node(js, 1, "talker")
        _, on_three = await cluster.on_node(js, 2, "listener")
        await cluster.all_send_more(3, 20)
        await _marker(cluster, on_two, on_three)
        await _marker(cluster, on_one, on_three)

        before = [sender.connects() for sender in cluster.senders]
        reconnected: dict[int, float] = {}

        async def watch_reconnects() -> None:
            while True:
                for index, sender in enumerate(cluster.senders):
                    if index not in reconnected and sender.connects() > before[index]:
                        reconnected[index] = loop.time() - killed
                await asyncio.sleep(0.02)

        killed = loop.time()
        await asyncio.to_thread(cluster.nodes[0].kill)
        watcher = asyncio.ensure_future(watch_reconnects())
        try:
            offline = {"roomId": cluster.room_id, "user": leaver.public(), "online": False}
            await on_three.wait("event", 2 * PRESENCE_TTL_S, name="presence", args=[offline])
            went_offline = loop.time() - killed
            # The survivors still talk to each other, both ways, through Redis.
            to_three = await _marker(cluster, on_two, on_three)
            to_two = await _marker(cluster, on_three, on_two)
            # Everyone, including those who were on the dead node, is sending again.
            await cluster.all_send_more(3, 20)
        finally:
            watcher.cancel()
        await cluster.finish_traffic()
        checked = await _assert_every_ack_stored_once(cluster, postgres_url)
        took = loop.time() - began

    moved = sorted(reconnected.values())
    assert len(moved) == SENDERS // 3, f"senders that reconnected: {reconnected}"
    assert max(moved) < 5, f"reconnect times: {moved}"
    print(  # the drill's measurements, shown with -s
        f"\nnode kill drill: {checked} acked messages stored once; reconnected after"
        f" {', '.join(f'{t:.2f}' for t in moved)} s; leaver offline after {went_offline:.2f} s"
        f" (ttl {PRESENCE_TTL_S:g} s); markers between survivors {to_three:.3f} / {to_two:.3f} s;"
        f" drill {took:.1f} s after the nodes started"
    )


async def test_redis_restarted_under_traffic_loses_no_acknowledged_message(
    tmp_path: Path, postgres_url: str, js: JsDriver
) -> None:
    loop = asyncio.get_running_loop()
    with RedisProcess() as redis:
        async with _cluster(tmp_path, 2, postgres_url, redis.url) as cluster:
            began = loop.time()
            await cluster.start_traffic(js)
            _, one_a = await cluster.on_node(js, 0, "one_a")
            _, one_b = await cluster.on_node(js, 0, "one_b")
            _, two_a = await cluster.on_node(js, 1, "two_a")
            await cluster.all_send_more(3, 20)
            await _marker(cluster, one_a, two_a)

            down = loop.time()
            await asyncio.to_thread(redis.stop)
            noticed = await _until(
                lambda: all(not _ready(node) for node in cluster.nodes), 10, cluster.logs
            )
            # Each node still serves its own clients: local delivery and acks go on.
            local = await _marker(cluster, one_a, one_b)
            await cluster.all_send_more(20, 15)  # a few seconds of traffic without Redis
            # A cross-node message sent now is dropped, not held back for later.
            lost = f"lost {secrets.token_hex(4)}"
            payload = {"roomId": cluster.room_id, "body": lost, "clientId": lost}
            await _ok(one_a, "message:send", payload)
            outage = loop.time() - down

            await asyncio.to_thread(redis.start)
            back = loop.time()
            to_two = await _resumed(cluster, one_a, two_a, back)
            to_one = await _resumed(cluster, two_a, one_b, back)
            # Node 1 sent `lost` before the marker that reached two_a, in the same order.
            assert lost not in _bodies(two_a)
            assert lost in _bodies(one_b)
            await cluster.all_send_more(3, 10)
            await cluster.finish_traffic()
            checked = await _assert_every_ack_stored_once(cluster, postgres_url)
            took = loop.time() - began

    print(  # the drill's measurements, shown with -s
        f"\nredis restart drill: {checked} acked messages stored; nodes noticed in"
        f" {noticed:.2f} s; local marker {local:.3f} s; Redis away {outage:.2f} s;"
        f" cross-node again after {to_two:.2f} s (1 -> 2) / {to_one:.2f} s (2 -> 1);"
        f" drill {took:.1f} s after the nodes started"
    )


def _ready(node: ClusterNode) -> bool:
    try:
        return httpx.get(f"{node.url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


async def _resumed(cluster: Cluster, sender: JsClient, receiver: JsClient, since: float) -> float:
    """Send markers from ``sender`` until one reaches ``receiver`` (a node of its own);
    return the seconds from ``since`` (Redis back) until it did."""
    loop = asyncio.get_running_loop()
    deadline = since + RESUME_WITHIN_S
    sent: list[str] = []
    while loop.time() < deadline:
        body = f"resume {secrets.token_hex(4)}"
        sent.append(body)
        payload = {"roomId": cluster.room_id, "body": body, "clientId": body}
        await _ok(sender, "message:send", payload)
        try:
            await _until(lambda: bool(set(sent) & set(_bodies(receiver))), 0.5)
        except AssertionError:
            continue
        return loop.time() - since
    raise AssertionError(
        f"no cross-node message within {RESUME_WITHIN_S:g} s of Redis coming back\n"
        f"{receiver.describe()}\n{cluster.logs()}"
    )
