"""Room spam: one client creates public rooms as fast as it can; what does that cost others?

The attack of issue 7: ``room:create`` had no limit and ``rooms:list`` no pages, so one
account could fill the room table in seconds and every other user then downloaded all of
it at start-up. This script measures both halves on a real server, with the shared
harness's canary user timing its acked messages meanwhile (see
:mod:`bench.abuse.harness`):

1. start ``baatcheet serve`` on 127.0.0.1 with a fresh SQLite file;
2. register an attacker and an observer over REST;
3. measure the observer's room listings: the ``rooms:list`` ack (``{}`` as old clients
   send it, and ``{scope: "joined"}`` as the web client sends it at start-up), walking
   the public pages (``{scope: "public"}`` + ``nextCursor``) when the server pages, and
   ``GET /api/rooms``;
4. let the attacker pipeline ``room:create`` (``--window`` in flight) for ``--seconds``;
5. measure the listings again and print everything as one table.

The attacker is a raw WebSocket speaking Engine.IO/Socket.IO text frames, so nothing
between it and the server adds its own limits. Everything stays on loopback and is
bounded in time (``--seconds`` ≤ 60) and in rooms (``--max-rooms``). To measure another
checkout (say, the code before the limits), put its ``src`` first on ``PYTHONPATH``: the
server subprocess inherits it.

Run: ``uv run python bench/abuse/room_spam.py --seconds 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

# Run as a script from anywhere: make the checkout importable for the shared harness.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.abuse.harness import HOST, AbuseHarness, mib

__all__ = ["main"]

_MAX_SECONDS = 60.0
_PASSWORD = "correct horse battery"
_NAMESPACE = "/chat"


@dataclass
class _Answer:
    """One ack: its arguments and the size of the frame that carried them."""

    args: list[Any]
    frame_bytes: int


@dataclass
class RawChatClient:
    """A minimal Socket.IO v5 client on ``/chat`` over one raw WebSocket (text frames only).

    It answers the server's heartbeat (``2`` → ``3``) and matches acks (``43/chat,<id>``)
    to their events, and nothing else: enough to attack, and to measure exact frame sizes.
    """

    port: int
    token: str
    _ws: Any = None
    _reader: asyncio.Task[None] | None = None
    _acks: dict[int, asyncio.Future[_Answer]] = field(default_factory=dict)
    _next_id: int = 0

    async def connect(self) -> None:
        """Open the WebSocket, then the ``/chat`` namespace with the token."""
        url = f"ws://{HOST}:{self.port}/socket.io/?EIO=4&transport=websocket"
        self._ws = await websockets.connect(url, max_size=None)
        opened = await self._ws.recv()
        if not str(opened).startswith("0"):
            raise RuntimeError(f"expected an Engine.IO OPEN packet, got {opened!r}")
        await self._ws.send(f"40{_NAMESPACE},{json.dumps({'token': self.token})}")
        while True:
            frame = str(await self._ws.recv())
            if frame == "2":
                await self._ws.send("3")
            elif frame.startswith(f"40{_NAMESPACE},"):
                break
            elif frame.startswith(f"44{_NAMESPACE},"):
                raise RuntimeError(f"/chat refused the connection: {frame}")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        prefix = f"43{_NAMESPACE},"
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in self._ws:
                frame = str(message)
                if frame == "2":
                    await self._ws.send("3")
                elif frame.startswith(prefix):
                    body = frame[len(prefix) :]
                    digits = len(body) - len(body.lstrip("0123456789"))
                    future = self._acks.pop(int(body[:digits]), None)
                    if future is not None and not future.done():
                        size = len(frame.encode())
                        future.set_result(_Answer(json.loads(body[digits:]), size))
        for future in self._acks.values():
            if not future.done():
                future.set_exception(ConnectionError("the server closed the connection"))

    async def request(self, event: str, payload: Any, timeout: float = 30.0) -> _Answer:  # noqa: ASYNC109
        """Emit ``event`` with an ack id and wait for the ack."""
        ack_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self._ws.send(f"42{_NAMESPACE},{ack_id}{json.dumps([event, payload])}")
        async with asyncio.timeout(timeout):
            return await future

    async def close(self) -> None:
        """Close the WebSocket and stop reading."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader


@dataclass
class Listing:
    """What the observer downloads to see the room list."""

    first_bytes: int
    first_rooms: int
    paged: bool
    walk_pages: int
    walk_bytes: int
    walk_rooms: int
    joined_bytes: int
    rest_bytes: int


async def _measure(observer: RawChatClient, http: httpx.AsyncClient, token: str) -> Listing:
    first = await observer.request("rooms:list", {})
    answer = first.args[0]
    paged = "nextCursor" in answer
    walk_pages, walk_bytes, walk_rooms = 1, first.frame_bytes, len(answer["rooms"])
    if paged:
        # Every public room, page by page: what browsing the whole directory costs.
        walk_pages, walk_bytes, walk_rooms = 0, 0, 0
        cursor: str | None = None
        while True:
            payload: dict[str, Any] = {"scope": "public"}
            if cursor is not None:
                payload["cursor"] = cursor
            page = await observer.request("rooms:list", payload)
            walk_pages += 1
            walk_bytes += page.frame_bytes
            walk_rooms += len(page.args[0]["rooms"])
            cursor = page.args[0]["nextCursor"]
            if cursor is None:
                break
    joined = await observer.request("rooms:list", {"scope": "joined"})
    rest = await http.get("/api/rooms", headers={"Authorization": f"Bearer {token}"})
    rest.raise_for_status()
    return Listing(
        first_bytes=first.frame_bytes,
        first_rooms=len(answer["rooms"]),
        paged=paged,
        walk_pages=walk_pages,
        walk_bytes=walk_bytes,
        walk_rooms=walk_rooms,
        joined_bytes=joined.frame_bytes,
        rest_bytes=len(rest.content),
    )


@dataclass
class Attack:
    """What the spamming client achieved."""

    seconds: float
    sent: int
    outcomes: Counter[str]
    first_refusal: str | None


async def _spam(attacker: RawChatClient, seconds: float, window: int, max_rooms: int) -> Attack:
    outcomes: Counter[str] = Counter()
    first_refusal: str | None = None
    sent = 0
    deadline = time.monotonic() + seconds
    run = uuid.uuid4().hex[:6]

    async def one(index: int) -> None:
        nonlocal first_refusal
        try:
            answer = await attacker.request(
                "room:create", {"name": f"spam-{run}-{index:06d}", "kind": "public"}
            )
        except (TimeoutError, ConnectionError) as exc:
            outcomes[type(exc).__name__] += 1
            return
        ack = answer.args[0]
        if ack.get("ok"):
            outcomes["created"] += 1
        else:
            outcomes[ack["error"]["code"]] += 1
            if first_refusal is None:
                first_refusal = f"{ack['error']['code']}: {ack['error']['message']}"

    started = time.monotonic()
    in_flight: set[asyncio.Task[None]] = set()
    while time.monotonic() < deadline and sent < max_rooms:
        if len(in_flight) >= window:
            _done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            continue
        in_flight.add(asyncio.create_task(one(sent)))
        sent += 1
    if in_flight:
        await asyncio.wait(in_flight)
    return Attack(time.monotonic() - started, sent, outcomes, first_refusal)


async def _register(http: httpx.AsyncClient, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    answer = await http.post("/api/auth/register", json={"username": name, "password": _PASSWORD})
    answer.raise_for_status()
    token: str = answer.json()["accessToken"]
    return token


def _kib(size: int) -> str:
    return f"{size:,} B" if size < 10_240 else f"{size / 1024:,.1f} KiB"


def _report(before: Listing, attack: Attack, after: Listing, canary: str, rss: str) -> str:
    rate = attack.outcomes["created"] / attack.seconds if attack.seconds else 0.0
    refused = {code: n for code, n in attack.outcomes.items() if code != "created"}
    lines = [
        f"attack: {attack.sent} room:create in {attack.seconds:.1f} s;"
        f" created {attack.outcomes['created']} ({rate:,.0f}/s); refused {refused or 'none'}",
        f"canary during the attack: {canary}",
        f"server RSS: {rss}",
    ]
    if attack.first_refusal:
        lines.append(f"first refusal: {attack.first_refusal}")

    def row(label: str, old: str, new: str) -> str:
        return f"{label:<44} {old:>16} {new:>16}"

    lines += [
        row("observer's listing", "before", "after"),
        row("rooms:list {} — rooms in the answer", str(before.first_rooms), str(after.first_rooms)),
        row("rooms:list {} — ack frame", _kib(before.first_bytes), _kib(after.first_bytes)),
        row(
            'rooms:list {scope:"joined"} (start-up)',
            _kib(before.joined_bytes),
            _kib(after.joined_bytes),
        ),
        row("GET /api/rooms — body", _kib(before.rest_bytes), _kib(after.rest_bytes)),
        row(
            "every public room, all pages — pages",
            str(before.walk_pages),
            str(after.walk_pages),
        ),
        row("every public room, all pages — rooms", str(before.walk_rooms), str(after.walk_rooms)),
        row("every public room, all pages — data", _kib(before.walk_bytes), _kib(after.walk_bytes)),
        f"server pages rooms:list: {'yes' if after.paged else 'no'}",
    ]
    return "\n".join(lines)


async def _run(args: argparse.Namespace) -> str:
    seconds = min(args.seconds, _MAX_SECONDS)
    harness = AbuseHarness(args.server_arg)
    async with harness as h, httpx.AsyncClient(base_url=f"http://{HOST}:{h.port}") as http:
        attacker = RawChatClient(h.port, await _register(http, "spammer"))
        observer_token = await _register(http, "observer")
        observer = RawChatClient(h.port, observer_token)
        await attacker.connect()
        await observer.connect()
        try:
            before = await _measure(observer, http, observer_token)
            rss_before = h.rss.current_bytes()
            h.rss.reset_peak()
            h.canary.reset()
            attack = await _spam(attacker, seconds, args.window, args.max_rooms)
            canary = h.canary.stats().line()
            rss = f"{mib(rss_before)} before, peak {mib(h.rss.peak_bytes)} during"
            after = await _measure(observer, http, observer_token)
        finally:
            await attacker.close()
            await observer.close()
    return _report(before, attack, after, canary, rss)


def main() -> None:
    """Parse the options, run the attack once, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="attack time (≤ 60 s)")
    parser.add_argument("--window", type=int, default=32, help="room:create requests in flight")
    parser.add_argument("--max-rooms", type=int, default=50_000, help="stop after this many")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="extra flag for baatcheet serve, e.g. --server-arg=--room-creations-per-hour=99999"
        " to see the pages with the creation limit out of the way",
    )
    args = parser.parse_args()
    source = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or "this checkout"
    print(f"room spam against baatcheet serve, code from {source}:", flush=True)
    print(asyncio.run(_run(args)))


if __name__ == "__main__":
    main()
