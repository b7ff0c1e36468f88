"""What the observer hooks cost the fan-out path, measured without the network's noise.

``scripts/bench`` measures the whole server against Node, but on a busy machine its
CPU-per-delivery figure moves by tens of percent between identical runs, far more than
the hooks could cost. This drives the real server objects in one process instead: one
client sends ``publish`` and the server re-emits it to every client (the fan-out bench's
app), through real Engine.IO sessions and WebSocket connections whose transports accept
writes and drop them. Everything but the system calls runs, so the share of the hooks is
an upper bound of their share with real sockets.

Two figures, for metrics off (no-op observers) and on: the function calls one broadcast
makes (Python and C, counted with ``sys.setprofile``: exact, whatever else the machine
does), for two fan-out sizes, which shows what the hooks add per broadcast and that they
add nothing per recipient; and the best time of many rounds, which on a busy machine is
only as good as the machine is quiet.

Run: ``uv run python bench/observer_overhead.py [clients] [rounds]``.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from typing import Any

import uvloop

from baatcheet.engine.http import HttpRequest
from baatcheet.engine.session import EngineSession, SessionTiming
from baatcheet.engine.websocket import WebSocketConnection
from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from baatcheet.sio.client import Client

__all__ = ["main", "measure"]

_PAYLOAD = '2["publish",{"from":"bench","text":"' + "x" * 64 + '","n":1}]'
_BROADCASTS_PER_ROUND = 20


class _NullTransport:
    """Accepts every write and drops it; its buffer is always empty."""

    def write(self, data: bytes) -> None:
        del data

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def close(self) -> None:
        return None


async def _connected_clients(server: Server, count: int) -> list[Client]:
    engine = server.engine
    timing = SessionTiming.from_settings(server.settings)
    clients = []
    for index in range(count):
        request = HttpRequest("GET", "/socket.io/", "EIO=4&transport=websocket", [], None)
        session = EngineSession(
            f"s{index}",  # type: ignore[arg-type]  # an EngineSid in all but name
            request,
            server.settings,
            lambda session: None,
            deadlines=engine._deadlines,
            writes=engine.writes,
            observer=engine.observer,
            timing=timing,
        )
        ws = WebSocketConnection(_NullTransport(), server.settings.max_payload_bytes)  # type: ignore[arg-type]
        session.attach_websocket(ws)
        client = Client(session, server._lookup, server._client_limits, server._observer)
        session.handler = client
        client.on_message("0")
        clients.append(client)
    while len(server.main.sockets) < count:  # noqa: ASYNC110 - CONNECTs finish in tasks
        await asyncio.sleep(0)
    return clients


async def _server(metrics: bool, clients: int) -> tuple[Server, Client]:
    """A fan-out server with ``clients`` connected clients, and the one that publishes."""
    server = Server(Settings(metrics=metrics, packet_rate_per_s=1e9, packet_burst=10**9))

    def on_connection(socket: Socket) -> None:
        def on_publish(payload: Any) -> None:
            server.emit("message", payload)

        socket.on("publish", on_publish)

    server.on("connection", on_connection)
    publisher, *_ = await _connected_clients(server, clients)
    return server, publisher


async def calls_per_broadcast(metrics: bool, clients: int) -> int:
    """Function calls (Python and C) made while one published message is fanned out."""
    _, publisher = await _server(metrics, clients)
    publisher.on_message(_PAYLOAD)  # warm: first-use caches
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        del frame, arg
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        publisher.on_message(_PAYLOAD)
    finally:
        sys.setprofile(None)
    return calls


async def measure(metrics: bool, clients: int, rounds: int) -> list[float]:
    """Seconds per broadcast (decode, handler, fan-out, hooks), one figure per round."""
    _, publisher = await _server(metrics, clients)
    results = []
    # No collection while timing: the heap grows with every server built here, and a
    # full collection in a later measurement would bill it for the earlier ones.
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(_BROADCASTS_PER_ROUND):
                publisher.on_message(_PAYLOAD)
            results.append((time.perf_counter() - started) / _BROADCASTS_PER_ROUND)
    finally:
        gc.enable()
    return results


async def _compare(clients: int, rounds: int) -> None:
    for size in (clients // 10, clients):
        calls_off, calls_on = [await calls_per_broadcast(m, size) for m in (False, True)]
        print(
            f"{size:5d} clients: {calls_off} calls per broadcast with metrics off,"
            f" {calls_on} on ({calls_on - calls_off:+d})"
        )
    best: dict[bool, list[float]] = {False: [], True: []}
    # Interleaved, each side first in turn, so load elsewhere hits both sides alike.
    for batch in range(6):
        for metrics in (False, True) if batch % 2 else (True, False):
            best[metrics].append(min(await measure(metrics, clients, rounds)))
    off, on = min(best[False]), min(best[True])
    print(f"{clients} clients, best of {6 * rounds} rounds of {_BROADCASTS_PER_ROUND} broadcasts")
    print(f"metrics off: {off * 1e6:8.1f} us per broadcast ({off / clients * 1e9:.0f} ns/delivery)")
    print(f"metrics on:  {on * 1e6:8.1f} us per broadcast ({on / clients * 1e9:.0f} ns/delivery)")
    print(
        f"difference:  {(on / off - 1) * 100:+.1f} % (medians of the per-batch bests: "
        f"{(statistics.median(best[True]) / statistics.median(best[False]) - 1) * 100:+.1f} %)"
    )


def main() -> None:
    """Entry point: clients and rounds from argv (1000 and 50 by default)."""
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    uvloop.run(_compare(clients, rounds))


if __name__ == "__main__":
    main()
