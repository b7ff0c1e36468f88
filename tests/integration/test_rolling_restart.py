"""A rolling restart behind nginx under chat traffic: no acknowledged message is lost.

Two ``baatcheet serve`` nodes share one PostgreSQL database behind nginx (round robin,
WebSocket passed through, a 503 or a refused connection retried on the other node).
Official JS clients send acknowledged messages all along, resending a message whose ack
did not come (same ``clientId``, as the web client does). Node 1 is restarted (SIGTERM,
exit 0, start), then node 2. Without Redis the nodes do not share broadcasts, so the test
looks at what the senders were told (acks) and at what the database holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from baatcheet.errors import AckTimeoutError
from baatcheet.store.schema import messages
from e2e.server_process import ServerProcess
from support.balancer import Nginx
from support.jsclient import JsClient, JsDriver

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

CLIENTS = 6
GRACE_S = 5.0
PASSWORD = "correct horse battery"


@dataclass
class Sender:
    """One user sending numbered messages, and what the server acknowledged."""

    client: JsClient
    user_id: int
    name: str
    acked: dict[str, int] = field(default_factory=dict)
    """Message id by ``clientId``, for every message whose ack said ok."""

    async def run(self, room_id: int, stop: asyncio.Event) -> None:
        number = 0
        while not stop.is_set():
            number += 1
            client_id = f"{self.name}-{number}"
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

    def connects(self) -> int:
        return sum(report["kind"] == "connect" for report in self.client.history)

    def disconnect_reasons(self) -> list[str]:
        return [r["reason"] for r in self.client.history if r["kind"] == "disconnect"]


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str) -> Iterator[list[ServerProcess]]:
    made = []
    for index in (1, 2):
        data = tmp_path / f"node{index}"
        data.mkdir()
        made.append(
            ServerProcess(
                data,
                env={
                    "BAATCHEET_DATABASE_URL": postgres_url,
                    "BAATCHEET_SHUTDOWN_GRACE_S": str(GRACE_S),
                    "BAATCHEET_LOG_LEVEL": "warning",
                },
            )
        )
    try:
        for node in made:
            node.start()
        yield made
    finally:
        # Also when a start fails: a node already running must not outlive the test.
        for node in made:
            node.stop()


async def _restart(node: ServerProcess) -> None:
    started = time.monotonic()
    code = await asyncio.to_thread(node.stop)
    took = time.monotonic() - started
    assert code == 0, f"exit {code}:\n{node.log()}"
    assert took < GRACE_S + 2, f"the drain took {took:.1f} s:\n{node.log()}"
    await asyncio.to_thread(node.start)


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the driver's reports arrive on their own
            await asyncio.sleep(0.05)


async def test_a_rolling_restart_loses_no_acknowledged_message_and_moves_clients_once(
    nodes: list[ServerProcess], tmp_path: Path, postgres_url: str, js: JsDriver
) -> None:
    with Nginx(tmp_path / "nginx", [node.port for node in nodes]) as nginx:
        senders = await _senders(nginx.url, js)
        room_id = await _shared_room(senders)
        stop = asyncio.Event()
        traffic = [asyncio.ensure_future(s.run(room_id, stop)) for s in senders]

        moves = []
        for node in nodes:
            await _until(lambda: all(len(s.acked) >= 3 for s in senders), 20)
            before = [s.connects() for s in senders]
            await _restart(node)
            # Everyone who was on the node is back (elsewhere) and has sent more since.
            marks = [len(s.acked) for s in senders]
            await _until(
                lambda marks=marks: all(  # type: ignore[misc]
                    len(s.acked) > mark + 2 for s, mark in zip(senders, marks, strict=True)
                ),
                20,
            )
            moves.append([s.connects() - b for s, b in zip(senders, before, strict=True)])
        stop.set()
        await asyncio.wait_for(asyncio.gather(*traffic), 30)

    first, second = moves
    assert max(first) <= 1, f"a client reconnected more than once: {first}"
    assert sum(first) >= 1, "no client was on node 1"
    # After node 1's restart everyone was on node 2, so node 2's restart moved everyone once.
    assert second == [1] * CLIENTS
    for sender in senders:
        assert set(sender.disconnect_reasons()) == {"transport close"}
    stored = await _stored(postgres_url, room_id)
    for sender in senders:
        for client_id, message_id in sender.acked.items():
            assert stored.get((sender.user_id, client_id)) == [message_id], client_id


async def _senders(url: str, js: JsDriver) -> list[Sender]:
    sessions = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for index in range(CLIENTS):
            name = f"roller{index}_{time.monotonic_ns() % 10**9}"
            answer = await http.post(
                "/api/auth/register", json={"username": name, "password": PASSWORD}
            )
            assert answer.status_code == 201, answer.text
            sessions.append((name, answer.json()))
    # Connected one after the other, the clients alternate between the nodes (round robin).
    senders = []
    for name, session in sessions:
        client = await js.connect(
            f"{url}/chat",
            auth={"token": session["accessToken"]},
            transports=["websocket"],
            reconnection_delay=200,
            reconnection_delay_max=1000,
        )
        await client.wait("connect")
        senders.append(Sender(client, session["user"]["id"], name))
    return senders


async def _shared_room(senders: list[Sender]) -> int:
    first, *others = senders
    [created] = await first.client.emit_with_ack("room:create", {"name": "ops", "kind": "public"})
    room_id: int = created["room"]["id"]
    for sender in others:
        [joined] = await sender.client.emit_with_ack("room:join", {"roomId": room_id})
        assert joined["ok"], joined
    return room_id


async def _stored(postgres_url: str, room_id: int) -> dict[tuple[int, str], list[int]]:
    """Message ids by (author, clientId) in the room: a list, to see duplicates."""
    engine = create_async_engine(postgres_url)
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
