"""HTTP slowloris: endless request lines and connections that never finish a request.

The attacks of issue 7 on the listener, run against a real ``baatcheet serve`` while a
canary chat user times its acked messages (see :mod:`harness`):

A. ``--url-connections`` attackers send ``GET /x?`` and then stream ``a`` without ever
   ending the line, for ``--url-seconds`` (at most ``--url-max-mb`` per connection),
   opening a new connection whenever the server closes one. A server with no
   request-line limit buffers all of it.
B. ``--idle-connections`` connections open and then hold: half send nothing, half send
   half a request (a request line and one header, no blank line). They are held for up
   to ``--hold-seconds``; a server without header/idle timeouts keeps every one.

It prints the server's RSS before, at peak and after each attack, the bytes the server
read during attack A (from ``/proc``: what it accepted, not what kernel buffers held),
how and when each attacker was closed, and the canary's round trips per phase.
Everything is bounded in count and time and stays on 127.0.0.1.

Run: ``uv run python bench/abuse/http_slowloris.py`` (about 80 s with the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Run as a script from anywhere: make the checkout importable for the shared harness.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.abuse.harness import HOST, AbuseHarness, mib

__all__ = ["main"]

_MAX_CONNECTIONS = 5000
_MAX_SECONDS = 120.0
_CHUNK = b"a" * 65536
_HALF_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@dataclass
class Attacker:
    """What happened to one attacking connection."""

    kind: str
    sent_bytes: int = 0
    closed_after_s: float | None = None
    answer: str = ""
    """The status line the server sent before closing, if any."""


async def _watch_close(
    reader: asyncio.StreamReader, attacker: Attacker, started: float, closed: asyncio.Event
) -> None:
    """Record the server's answer and the moment it closed the connection."""
    received = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(4096):
            received += chunk
    attacker.answer = received.split(b"\r\n", 1)[0].decode("latin-1")
    attacker.closed_after_s = time.perf_counter() - started
    closed.set()


async def _stream_url(port: int, until: float, max_bytes: int) -> Attacker:
    """One connection: ``GET /x?`` then ``a`` after ``a`` until closed, ``until`` or the cap."""
    attacker = Attacker("url")
    reader, writer = await asyncio.open_connection(HOST, port)
    started = time.perf_counter()
    closed = asyncio.Event()
    watcher = asyncio.create_task(_watch_close(reader, attacker, started, closed))
    try:
        writer.write(b"GET /x?")
        while attacker.sent_bytes < max_bytes and not closed.is_set():
            left = until - time.perf_counter()
            if left <= 0:
                break
            writer.write(_CHUNK)
            await asyncio.wait_for(writer.drain(), left)
            attacker.sent_bytes += len(_CHUNK)
    except (ConnectionError, TimeoutError):
        pass
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closed.wait(), 1.0)
    writer.transport.abort()
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return attacker


async def _keep_streaming(port: int, seconds: float, max_bytes: int) -> list[Attacker]:
    """One attacker slot: a new endless-URL connection each time the server closes one."""
    until = time.perf_counter() + seconds
    attackers: list[Attacker] = []
    while time.perf_counter() < until and len(attackers) < _MAX_CONNECTIONS:
        attackers.append(await _stream_url(port, until, max_bytes))
    return attackers


async def _hold(port: int, kind: str, hold_seconds: float, opened: asyncio.Semaphore) -> Attacker:
    attacker = Attacker(kind)
    async with opened:
        reader, writer = await asyncio.open_connection(HOST, port)
    started = time.perf_counter()
    if kind == "half-request":
        writer.write(_HALF_REQUEST)
        attacker.sent_bytes = len(_HALF_REQUEST)
    closed = asyncio.Event()
    watcher = asyncio.create_task(_watch_close(reader, attacker, started, closed))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closed.wait(), hold_seconds)
    writer.transport.abort()
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return attacker


def _closing(attackers: Sequence[Attacker]) -> str:
    closed = [a.closed_after_s for a in attackers if a.closed_after_s is not None]
    answers = Counter(a.answer or "(no answer)" for a in attackers if a.closed_after_s is not None)
    if not closed:
        return f"0/{len(attackers)} closed by the server"
    return (
        f"{len(closed)}/{len(attackers)} closed by the server, after"
        f" median {statistics.median(closed):.1f} s (min {min(closed):.1f}, max"
        f" {max(closed):.1f}); answers: {dict(answers)}"
    )


async def _run(args: argparse.Namespace) -> None:
    connections = min(args.idle_connections, _MAX_CONNECTIONS)
    hold_seconds = min(args.hold_seconds, _MAX_SECONDS)
    url_seconds = min(args.url_seconds, _MAX_SECONDS)
    async with AbuseHarness(args.server_flag) as h:
        print(f"server pid {h.pid} on {HOST}:{h.port}, flags {args.server_flag or '(defaults)'}")
        h.canary.reset()
        await asyncio.sleep(3)
        print(f"baseline   canary: {h.canary.stats().line()}")

        rss_before, read_before = h.rss.current_bytes(), h.rss.read_bytes()
        h.rss.reset_peak()
        h.canary.reset()
        slots = await asyncio.gather(
            *(
                _keep_streaming(h.port, url_seconds, args.url_max_mb * 2**20)
                for _ in range(args.url_connections)
            )
        )
        streams = [stream for slot in slots for stream in slot]
        print(
            f"attack A: {args.url_connections} attackers streaming a URL for {url_seconds} s,"
            " reconnecting whenever the server closes them"
        )
        print(f"  canary: {h.canary.stats().line()}")
        print(
            f"  server RSS before {mib(rss_before)}, peak {mib(h.rss.peak_bytes)},"
            f" after {mib(h.rss.current_bytes())}"
        )
        read = h.rss.read_bytes() - read_before
        written = sum(stream.sent_bytes for stream in streams)
        most = max(stream.sent_bytes for stream in streams)
        print(
            f"  {len(streams)} connections; attackers wrote {written:,} bytes ({mib(written)}),"
            f" at most {most:,} on one connection"
        )
        print(
            f"  server read {read:,} bytes in all, {read // len(streams):,} per connection"
            " (canary traffic included)"
        )
        print(f"  {_closing(streams)}")

        rss_before = h.rss.current_bytes()
        h.rss.reset_peak()
        h.canary.reset()
        opened = asyncio.Semaphore(200)
        kinds = ["silent" if index % 2 else "half-request" for index in range(connections)]
        began = time.perf_counter()
        holders = await asyncio.gather(*(_hold(h.port, k, hold_seconds, opened) for k in kinds))
        print(
            f"attack B: {connections} connections held for up to {hold_seconds} s"
            f" (took {time.perf_counter() - began:.1f} s)"
        )
        print(f"  canary: {h.canary.stats().line()}")
        print(
            f"  server RSS before {mib(rss_before)}, peak {mib(h.rss.peak_bytes)},"
            f" after {mib(h.rss.current_bytes())}"
        )
        for kind in ("silent", "half-request"):
            print(f"  {kind}: {_closing([a for a in holders if a.kind == kind])}")
        if h.canary.closed_reason:
            print(f"canary was cut off: {h.canary.closed_reason}")


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments and run both attacks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url-connections", type=int, default=2)
    parser.add_argument("--url-seconds", type=float, default=8.0)
    parser.add_argument("--url-max-mb", type=int, default=100, help="per connection")
    parser.add_argument("--idle-connections", type=int, default=2000)
    parser.add_argument("--hold-seconds", type=float, default=65.0)
    parser.add_argument(
        "--server-flag",
        action="append",
        default=[],
        help="extra 'baatcheet serve' argument (repeat: --server-flag=--port --server-flag=1)",
    )
    asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
