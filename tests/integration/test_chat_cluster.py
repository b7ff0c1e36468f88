"""The chat on two nodes sharing one database and one real Redis, official JS clients on each.

Absence is proved with a marker: the test emits ``test:marker`` to the client's user room
from the node that would have sent the unwanted event, after it. One node's broadcasts
reach every node in the order it sent them, so a client that has the marker has everything
that node sent it before.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from baatcheet.chat.accounts import Session
from baatcheet.store import RoomKind
from support.chatkit import ChatServer, chat_server, sqlite_url
from support.jsclient import JsClient, JsDriver
from support.ports import free_port

pytestmark = [pytest.mark.timeout(60), pytest.mark.redis]

Nodes = tuple[ChatServer, ChatServer]


@pytest.fixture
def prefix() -> str:
    """A cluster of the test's own on the shared Redis."""
    return f"chat-{secrets.token_hex(4)}"


@pytest.fixture
async def nodes(tmp_path: Path, redis_url: str, prefix: str) -> AsyncIterator[Nodes]:
    async with AsyncExitStack() as stack:
        one, two = [
            await stack.enter_async_context(
                chat_server(
                    sqlite_url(tmp_path),
                    redis_url=redis_url,
                    redis_prefix=prefix,
                    typing_expiry_ms=400,
                )
            )
            for _ in range(2)
        ]
        yield one, two


def _user(session: Session) -> dict[str, Any]:
    return {"id": session.user.id, "username": session.user.username}


async def _ack(client: JsClient, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    [answer] = await client.emit_with_ack(event, payload)
    assert isinstance(answer, dict)
    assert answer.get("ok") is True, answer
    return answer


async def _seen_before_marker(
    client: JsClient, session: Session, node: ChatServer, event: str
) -> list[Any]:
    """The ``event``s the client got before a marker that ``node`` sends it now."""
    token = secrets.token_hex(4)
    node.server.of("/chat").to(f"user:{session.user.id}").emit("test:marker", token)
    while (await client.next_event("test:marker")) != [token]:
        pass
    seen: list[Any] = []
    for report in client.history:
        if report.get("kind") != "event":
            continue
        if report.get("name") == "test:marker" and report["args"] == [token]:
            return seen
        if report.get("name") == event:
            seen.append(report["args"][0])
    raise AssertionError("the marker is missing from the history")


async def test_a_join_on_one_node_puts_the_users_tabs_on_both_nodes_in_the_room(
    nodes: Nodes, js: JsDriver
) -> None:
    one, two = nodes
    alice_s, bob_s = await one.user("alice"), await one.user("bob")
    alice = await one.connect(js, alice_s)
    bob_here, bob_there = await one.connect(js, bob_s), await two.connect(js, bob_s)
    room = (await _ack(alice, "room:create", {"name": "lobby", "kind": "public"}))["room"]

    await _ack(bob_there, "room:join", {"roomId": room["id"]})
    await _ack(alice, "message:send", {"roomId": room["id"], "body": "hi", "clientId": "1"})
    for tab in (bob_here, bob_there):
        assert (await tab.next_event("message:new"))[0]["body"] == "hi"

    # Leaving from the node-1 tab takes the node-2 tab out too.
    await _ack(bob_here, "room:leave", {"roomId": room["id"]})
    await _ack(alice, "message:send", {"roomId": room["id"], "body": "gone?", "clientId": "2"})
    for tab in (bob_here, bob_there):
        bodies = [m["body"] for m in await _seen_before_marker(tab, bob_s, one, "message:new")]
        assert bodies == ["hi"]


async def test_a_room_made_on_one_node_reaches_its_members_on_the_other_at_once(
    nodes: Nodes, js: JsDriver
) -> None:
    one, two = nodes
    alice_s, bob_s, carol_s = [await one.user(name) for name in ("alice", "bob", "carol")]
    alice = await one.connect(js, alice_s)
    bob, carol = await two.connect(js, bob_s), await two.connect(js, carol_s)

    created = {"name": "plans", "kind": "private", "members": [bob_s.user.username]}
    room = (await _ack(alice, "room:create", created))["room"]
    assert (await bob.next_event("room:updated"))[0]["id"] == room["id"]
    await _ack(alice, "message:send", {"roomId": room["id"], "body": "psst", "clientId": "1"})
    assert (await bob.next_event("message:new"))[0]["body"] == "psst"
    # Bob's socket on node 2 is in the room and knows it: he can answer at once.
    await _ack(bob, "message:send", {"roomId": room["id"], "body": "ok", "clientId": "2"})
    assert (await alice.next_event("message:new"))[0]["body"] == "psst"
    assert (await alice.next_event("message:new"))[0]["body"] == "ok"

    dm = (await _ack(alice, "dm:open", {"username": carol_s.user.username}))["room"]
    assert (await carol.next_event("room:updated"))[0]["id"] == dm["id"]
    await _ack(alice, "message:send", {"roomId": dm["id"], "body": "hey", "clientId": "3"})
    assert (await carol.next_event("message:new"))[0]["body"] == "hey"

    # Carol leaves the DM on node 2; Alice opening it again on node 1 brings her back live.
    await _ack(carol, "room:leave", {"roomId": dm["id"]})
    await _ack(alice, "dm:open", {"username": carol_s.user.username})
    assert (await carol.next_event("room:updated"))[0]["id"] == dm["id"]
    await _ack(alice, "message:send", {"roomId": dm["id"], "body": "back?", "clientId": "4"})
    assert (await carol.next_event("message:new"))[0]["body"] == "back?"


async def test_presence_is_announced_once_across_nodes_and_listed_whole_on_each(
    nodes: Nodes, js: JsDriver
) -> None:
    one, two = nodes
    alice_s, bob_s = await one.user("alice"), await one.user("bob")
    room = await one.chat.rooms.create(alice_s.user, "r", RoomKind.PRIVATE, [bob_s.user.username])
    alice = await one.connect(js, alice_s)
    bob = await two.connect(js, bob_s)
    online = {"roomId": room.id, "user": _user(bob_s), "online": True}
    assert await alice.next_event("presence") == [online]
    for client in (alice, bob):
        listed = await _ack(client, "presence:list", {"roomId": room.id})
        assert listed["users"] == [_user(alice_s), _user(bob_s)]

    # A second tab of Bob, on node 1, is no news; its presence:list ack comes after
    # whatever its arrival announced (node 1 orders both).
    second = await one.connect(js, bob_s)
    await _ack(second, "presence:list", {"roomId": room.id})
    assert await _seen_before_marker(alice, alice_s, one, "presence") == [online]
    gone = asyncio.Event()
    sid = (await second.state())["sid"]
    one.server.of("/chat").sockets[sid].on("disconnect", lambda _reason: gone.set())
    await second.disconnect()
    await asyncio.wait_for(gone.wait(), 5)
    await _ack(alice, "presence:list", {"roomId": room.id})  # after node 1's presence update
    assert await _seen_before_marker(alice, alice_s, one, "presence") == [online]

    await bob.disconnect()
    assert await alice.next_event("presence") == [{**online, "online": False}]
    assert (await _ack(alice, "presence:list", {"roomId": room.id}))["users"] == [_user(alice_s)]


async def test_typing_and_receipts_cross_nodes(nodes: Nodes, js: JsDriver) -> None:
    one, two = nodes
    alice_s, bob_s = await one.user("alice"), await one.user("bob")
    room = await one.chat.rooms.create(alice_s.user, "r", RoomKind.PRIVATE, [bob_s.user.username])
    alice, bob = await one.connect(js, alice_s), await two.connect(js, bob_s)

    await _ack(bob, "typing:start", {"roomId": room.id})
    typing = {"roomId": room.id, "user": _user(bob_s), "typing": True}
    assert await alice.next_event("typing") == [typing]
    assert await alice.next_event("typing", timeout=2) == [{**typing, "typing": False}]

    sent = await _ack(alice, "message:send", {"roomId": room.id, "body": "x", "clientId": "1"})
    [message] = await bob.next_event("message:new")
    for state in ("delivered", "read"):
        await _ack(bob, f"receipt:{state}", {"roomId": room.id, "messageId": message["id"]})
        assert await alice.next_event("receipt") == [
            {"roomId": room.id, "messageId": sent["id"], "user": _user(bob_s), "state": state}
        ]
    assert await _seen_before_marker(bob, bob_s, two, "receipt") == []


async def test_a_public_room_made_on_one_node_appears_live_for_everyone_on_the_other(
    nodes: Nodes, js: JsDriver
) -> None:
    one, two = nodes
    alice_s, carol_s = await one.user("alice"), await one.user("carol")
    alice, carol = await one.connect(js, alice_s), await two.connect(js, carol_s)
    alices_other_tab = await two.connect(js, alice_s)
    room = (await _ack(alice, "room:create", {"name": "Town square", "kind": "public"}))["room"]
    assert await carol.next_event("room:created") == [
        {"id": room["id"], "name": "Town square", "kind": "public"}
    ]
    # The creator's tabs are members: the room comes to their list, not their directory.
    assert await alices_other_tab.next_event("room:updated") == [room]
    assert await _seen_before_marker(alices_other_tab, alice_s, one, "room:created") == []
    await _ack(carol, "room:join", {"roomId": room["id"]})
    await _ack(alice, "message:send", {"roomId": room["id"], "body": "welcome", "clientId": "1"})
    assert (await carol.next_event("message:new"))[0]["body"] == "welcome"
    # A private room is nobody else's business.
    await _ack(alice, "room:create", {"name": "secret", "kind": "private"})
    created = await _seen_before_marker(carol, carol_s, one, "room:created")
    assert [r["name"] for r in created] == ["Town square"]


async def test_users_of_a_node_that_shuts_down_go_offline_by_the_next_sweep_at_the_latest(
    tmp_path: Path, redis_url: str, prefix: str, js: JsDriver
) -> None:
    ttl_s = 3.0
    fields = {"redis_url": redis_url, "redis_prefix": prefix, "presence_ttl_s": ttl_s}
    async with chat_server(sqlite_url(tmp_path), **fields) as one:
        alice_s, bob_s = await one.user("alice"), await one.user("bob")
        room = await one.chat.rooms.create(
            alice_s.user, "r", RoomKind.PRIVATE, [bob_s.user.username]
        )
        alice = await one.connect(js, alice_s)
        async with chat_server(sqlite_url(tmp_path), **fields) as two:
            await two.connect(js, bob_s)
            online = {"roomId": room.id, "user": _user(bob_s), "online": True}
            assert await alice.next_event("presence") == [online]
        # Node 2 is gone: it said goodbye, so the next heartbeat of node 1 sweeps it.
        offline = await alice.next_event("presence", timeout=ttl_s / 3 + 1)
        assert offline == [{**online, "online": False}]


# -- a node that dies --------------------------------------------------------------------

_TTL_S = 1.0
_START_S = 120.0
"""A loaded test machine can take long to import the server; the test does not time it."""


@dataclass
class NodeProcess:
    """``baatcheet serve`` in a process of its own, which the test can kill outright."""

    url: str
    """Its ``/chat`` namespace."""
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to Redis, sockets dropped by the kernel."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def node_process(tmp_path: Path, redis_url: str, prefix: str) -> Iterator[NodeProcess]:
    """A second node on the test's database and cluster, with a short presence TTL."""
    port = free_port()
    env = {
        **os.environ,
        "BAATCHEET_DATABASE_URL": sqlite_url(tmp_path),
        "BAATCHEET_REDIS_URL": redis_url,
        "BAATCHEET_REDIS_PREFIX": prefix,
        "BAATCHEET_PRESENCE_TTL_S": str(_TTL_S),
    }
    log_path = tmp_path / "node.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("baatcheet")), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        node = NodeProcess(f"http://127.0.0.1:{port}/chat", process)
        try:
            deadline = time.monotonic() + _START_S
            while not _healthy(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"baatcheet serve did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield node
        finally:
            node.kill()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.timeout(_START_S + 60)
async def test_users_of_a_node_killed_without_goodbye_go_offline_within_the_ttl(
    tmp_path: Path, redis_url: str, prefix: str, node_process: NodeProcess, js: JsDriver
) -> None:
    async with chat_server(
        sqlite_url(tmp_path), redis_url=redis_url, redis_prefix=prefix, presence_ttl_s=_TTL_S
    ) as one:
        alice_s, bob_s = await one.user("alice"), await one.user("bob")
        room = await one.chat.rooms.create(
            alice_s.user, "r", RoomKind.PRIVATE, [bob_s.user.username]
        )
        alice = await one.connect(js, alice_s)
        token = {"token": bob_s.access_token}
        bob = await js.connect(node_process.url, auth=token, reconnection=False)
        await bob.wait("connect")
        online = {"roomId": room.id, "user": _user(bob_s), "online": True}
        assert await alice.next_event("presence") == [online]

        node_process.kill()
        loop = asyncio.get_running_loop()
        killed = loop.time()
        offline = await alice.next_event("presence", timeout=_TTL_S + 2)
        assert loop.time() - killed <= _TTL_S + 1.0  # + scheduling on a busy machine
        assert offline == [{**online, "online": False}]
        listed = await _ack(alice, "presence:list", {"roomId": room.id})
        assert listed["users"] == [_user(alice_s)]
