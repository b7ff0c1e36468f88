"""``/metrics``: what each node counts, scraped as Prometheus text over a real socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from baatcheet.store import RoomKind
from support.chatkit import chat_server, sqlite_url
from support.factories import ServerFactory
from support.jsclient import JsDriver
from support.ports import free_port

pytestmark = pytest.mark.timeout(60)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(port: int) -> Samples:
    """Every sample of ``/metrics``, by name and sorted labels."""
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def _scrape_until(
    port: int, holds: Callable[[Samples], bool], seconds: float = 5.0
) -> Samples:
    """Scrape until ``holds`` (counters catch up with events on their own schedule)."""
    async with asyncio.timeout(seconds):
        while True:
            samples = await _scrape(port)
            if holds(samples):
                return samples
            await asyncio.sleep(0.05)


async def test_connections_traffic_broadcasts_and_acks_are_counted(
    running_server: ServerFactory, js: JsDriver
) -> None:
    server: Server = await running_server()
    sockets: list[Socket] = []

    def on_connection(socket: Socket) -> None:
        sockets.append(socket)
        socket.on("shout", lambda text: server.emit("heard", text))

    server.on("connection", on_connection)
    url = f"http://127.0.0.1:{server.port}"
    ws = [await js.connect(url, transports=["websocket"]) for _ in range(3)]
    polling = await js.connect(url, transports=["polling"])
    for client in [*ws, polling]:
        await client.wait("connect")
        await client.on_ack("ping", ["pong"])

    await ws[0].emit("shout", "hello")
    for client in [*ws, polling]:
        assert await client.next_event("heard") == ["hello"]
    assert await sockets[0].emit_with_ack("ping") == ["pong"]
    await ws[1].disconnect()  # its last namespace: the client closes the connection too
    samples = await _scrape_until(
        server.port,
        lambda s: _value(s, "baatcheet_disconnects_total", reason="transport close") == 1,
    )

    assert (
        _value(samples, "baatcheet_handshakes_total", transport="websocket", outcome="accepted")
        == 3
    )
    assert (
        _value(samples, "baatcheet_handshakes_total", transport="polling", outcome="accepted") == 1
    )
    assert _value(samples, "baatcheet_connections", transport="websocket") == 2
    assert _value(samples, "baatcheet_connections", transport="polling") == 1
    assert _value(samples, "baatcheet_sockets", namespace="/") == 3
    assert _value(samples, "baatcheet_namespace_connects_total", namespace="/") == 4
    reason = "client namespace disconnect"
    assert (
        _value(samples, "baatcheet_namespace_disconnects_total", namespace="/", reason=reason) == 1
    )
    # One broadcast: one observation of its fan-out, four packets out.
    assert _value(samples, "baatcheet_broadcast_fanout_count") == 1
    assert _value(samples, "baatcheet_broadcast_fanout_sum") == 4
    assert _value(samples, "baatcheet_broadcast_fanout_bucket", le="2.0") == 0
    assert _value(samples, "baatcheet_broadcast_fanout_bucket", le="5.0") == 1
    assert _value(samples, "baatcheet_ack_round_trip_seconds_count") == 1
    # 4 CONNECTs, the shout, the ack's answer and a DISCONNECT came in; 4 CONNECT answers,
    # 4 broadcast copies and the ping went out.
    assert _value(samples, "baatcheet_packets_received_total") == 7
    assert _value(samples, "baatcheet_packets_sent_total") == 9
    assert _value(samples, "baatcheet_received_bytes_total") > 0
    assert _value(samples, "baatcheet_sent_bytes_total") > 0
    assert _value(samples, "baatcheet_http_connections") >= 4
    assert _value(samples, "process_resident_memory_bytes") > 0

    await polling.close_engine()
    samples = await _scrape_until(
        server.port,
        lambda s: _value(s, "baatcheet_disconnects_total", reason="transport close") == 2,
    )
    assert _value(samples, "baatcheet_connections", transport="polling") == 0


async def test_refused_handshakes_are_counted_by_outcome(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(cors_origins=["https://chat.example"])
    base = f"http://127.0.0.1:{server.port}/socket.io/"
    async with httpx.AsyncClient(timeout=5) as http:
        forbidden = await http.get(
            base,
            params={"EIO": "4", "transport": "polling"},
            headers={"origin": "https://evil.example"},
        )
        bad = await http.get(base, params={"EIO": "3", "transport": "polling"})
    samples = await _scrape(server.port)

    assert (forbidden.status_code, bad.status_code) == (403, 400)
    assert (
        _value(samples, "baatcheet_handshakes_total", transport="polling", outcome="forbidden") == 1
    )
    assert (
        _value(samples, "baatcheet_handshakes_total", transport="polling", outcome="bad_request")
        == 1
    )
    assert (
        _value(samples, "baatcheet_handshakes_total", transport="polling", outcome="accepted") == 0
    )


async def test_chat_messages_and_their_group_commits_are_counted(
    tmp_path: Path, js: JsDriver
) -> None:
    async with chat_server(sqlite_url(tmp_path), max_message_length=10) as srv:
        alice = await srv.user("alice")
        room = await srv.chat.rooms.create(alice.user, "r", RoomKind.PUBLIC, [])
        client = await srv.connect(js, alice)

        async def send(room_id: int, body: str, client_id: str) -> Any:
            payload = {"roomId": room_id, "body": body, "clientId": client_id}
            return (await client.emit_with_ack("message:send", payload))[0]

        ok = await send(room.id, "hi", "c1")
        too_long = await send(room.id, "x" * 11, "c2")
        missing = await send(room.id + 1000, "hi", "c3")
        samples = await _scrape(srv.server.port)

    assert (ok["ok"], too_long["error"]["code"], missing["error"]["code"]) == (
        True,
        "too_long",
        "not_found",
    )
    assert _value(samples, "baatcheet_chat_messages_accepted_total") == 1
    assert _value(samples, "baatcheet_chat_messages_refused_total", reason="too_long") == 1
    assert _value(samples, "baatcheet_chat_messages_refused_total", reason="not_found") == 1
    assert _value(samples, "baatcheet_group_commit_batch_size_count", writer="messages") == 1
    assert _value(samples, "baatcheet_group_commit_batch_size_sum", writer="messages") == 1
    assert _value(samples, "baatcheet_group_commit_seconds_count", writer="messages") == 1
    assert _value(samples, "baatcheet_sockets", namespace="/chat") == 1


async def test_a_blocked_event_loop_shows_as_lag(running_server: ServerFactory) -> None:
    server: Server = await running_server()
    # The whole loop stops, as a CPU-bound handler would stop it, past the moment the lag
    # timer (every 0.5 s) is due: it runs at least 0.3 s late.
    time.sleep(0.8)  # noqa: ASYNC251

    samples = await _scrape_until(
        server.port, lambda s: _value(s, "baatcheet_event_loop_lag_seconds_count") >= 1
    )

    lagged = _value(samples, "baatcheet_event_loop_lag_seconds_count") - _value(
        samples, "baatcheet_event_loop_lag_seconds_bucket", le="0.25"
    )
    assert lagged == 1
    assert _value(samples, "baatcheet_event_loop_lag_seconds_sum") >= 0.25


@pytest.mark.redis
async def test_redis_publishes_are_timed_when_the_node_is_in_a_cluster(redis_url: str) -> None:
    server = Server(Settings(port=free_port(), redis_url=redis_url))
    await server.start()
    try:
        server.emit("news", "to every node")
        samples = await _scrape_until(
            server.port, lambda s: _value(s, "baatcheet_redis_publish_seconds_count") >= 1
        )
    finally:
        await server.shutdown(grace=1)

    assert _value(samples, "baatcheet_redis_up") == 1
    assert _value(samples, "baatcheet_redis_published_messages_total") >= 1
    assert _value(samples, "baatcheet_redis_reconnects_total") == 0


async def test_with_metrics_off_nothing_is_served_at_metrics(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(metrics=False)
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"http://127.0.0.1:{server.port}/metrics")

    assert server.metrics is None
    assert answer.status_code == 404
