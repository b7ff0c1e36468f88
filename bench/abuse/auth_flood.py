"""Auth flood: how many passwords one client may guess, and what a hashing flood costs others.

The attacks of issue 7 on ``/api/auth``, each against a real ``baatcheet serve`` with a
canary chat user timing its acked messages (see :mod:`bench.abuse.harness`):

1. **guess** — one client (127.0.0.1) sends wrong passwords for one username, one request
   after another, ignoring every ``Retry-After``. Counted: answers by status, and the
   passwords the server actually checked (its ``401`` answers) per second.
2. **stuffing** — one client (127.0.0.2) tries one wrong password on a different username
   each time (credential stuffing), so only the per-address limit can stop it.
3. **register flood** / **login flood** — ``--clients`` clients, each from its own loopback
   address (127.0.0.20+ / 127.0.0.60+, so per-address limits do not hide the hashing),
   register new accounts / log in with the right password back to back. Each request
   costs one argon2 hash (64 MiB). Measured: the server's peak RSS over its RSS before,
   answers by status, and the canary's round trips while it lasts.

Everything stays on loopback and is bounded in time (``--seconds`` ≤ 30 per phase) and in
clients (``--clients`` ≤ 64). To measure another checkout (say, the code before the
limits), put its ``src`` first on ``PYTHONPATH``: the server subprocess inherits it.

Run: ``uv run python bench/abuse/auth_flood.py --seconds 8``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Run as a script from anywhere: make the checkout importable for the shared harness.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.abuse.harness import HOST, AbuseHarness, mib

__all__ = ["main"]

_MAX_SECONDS = 30.0
_MAX_CLIENTS = 64
_PASSWORD = "correct horse battery staple"
_WRONG = "wrong horse battery staple"

Attempt = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@dataclass
class Tally:
    """Answers of one phase, by status, with the first ``Retry-After`` seen."""

    elapsed_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after: str | None = None
    errors: Counter[str] = field(default_factory=Counter)

    def count(self, answer: httpx.Response) -> None:
        """Record one answer."""
        self.statuses[answer.status_code] += 1
        if self.retry_after is None and "retry-after" in answer.headers:
            self.retry_after = answer.headers["retry-after"]

    def per_s(self, status: int) -> float:
        """Answers with ``status`` per second of the phase."""
        return self.statuses[status] / self.elapsed_s if self.elapsed_s else 0.0

    def line(self) -> str:
        """Statuses, most frequent first, and the first Retry-After."""
        parts = [f"{status}×{n}" for status, n in self.statuses.most_common()]
        parts += [f"{kind}×{n}" for kind, n in self.errors.most_common()]
        after = f", first Retry-After {self.retry_after} s" if self.retry_after else ""
        return f"{', '.join(parts) or 'no answers'} in {self.elapsed_s:.1f} s{after}"


def _client(port: int, address: str) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from ``address`` (a loopback alias)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}:{port}", timeout=60)


async def _hammer(
    port: int, addresses: list[str], attempt: Callable[[int], Attempt], seconds: float
) -> Tally:
    """One client per address, each sending ``attempt(i)`` back to back until time is up."""
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def run(index: int, address: str) -> None:
        async with _client(port, address) as http:
            while time.perf_counter() < deadline:
                try:
                    tally.count(await attempt(index)(http))
                except httpx.HTTPError as exc:
                    tally.errors[type(exc).__name__] += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(i, address) for i, address in enumerate(addresses)))
    tally.elapsed_s = time.perf_counter() - started
    return tally


def _credentials(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password}


async def _register(port: int, address: str, username: str) -> None:
    async with _client(port, address) as http:
        answer = await http.post("/api/auth/register", json=_credentials(username, _PASSWORD))
        answer.raise_for_status()


async def _guess(port: int, seconds: float) -> Tally:
    victim = f"victim_{uuid.uuid4().hex[:8]}"
    await _register(port, "127.0.0.3", victim)

    def wrong_password(_index: int) -> Attempt:
        return lambda http: http.post("/api/auth/login", json=_credentials(victim, _WRONG))

    return await _hammer(port, ["127.0.0.1"], wrong_password, seconds)


async def _stuffing(port: int, seconds: float) -> Tally:
    names = (f"someone_{n}" for n in itertools.count())

    def next_account(_index: int) -> Attempt:
        return lambda http: http.post("/api/auth/login", json=_credentials(next(names), _WRONG))

    return await _hammer(port, ["127.0.0.2"], next_account, seconds)


@dataclass(frozen=True)
class Flood:
    """One flood phase: answers, the server's memory, the canary's round trips."""

    tally: Tally
    rss_before: int
    rss_peak: int
    canary: str


async def _flood(h: AbuseHarness, kind: str, clients: int, seconds: float) -> Flood:
    first = 20 if kind == "register" else 60
    addresses = [f"127.0.0.{first + i}" for i in range(clients)]
    users = [f"flood_{uuid.uuid4().hex[:8]}" for _ in addresses]
    if kind == "login":
        await asyncio.gather(
            *(_register(h.port, a, u) for a, u in zip(addresses, users, strict=True))
        )
    fresh = (f"new_{uuid.uuid4().hex[:12]}" for _ in itertools.count())

    def register(_index: int) -> Attempt:
        return lambda http: http.post(
            "/api/auth/register", json=_credentials(next(fresh), _PASSWORD)
        )

    def login(index: int) -> Attempt:
        body = _credentials(users[index], _PASSWORD)
        return lambda http: http.post("/api/auth/login", json=body)

    await asyncio.sleep(1.0)  # let the set-up's memory settle before the baseline
    h.rss.reset_peak()
    rss_before = h.rss.current_bytes()
    h.canary.reset()
    tally = await _hammer(h.port, addresses, register if kind == "register" else login, seconds)
    return Flood(tally, rss_before, h.rss.peak_bytes, h.canary.stats().line())


async def _run(seconds: float, clients: int) -> None:
    async with AbuseHarness() as h:
        source = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or "this checkout"
        print(f"server: baatcheet serve on {HOST}:{h.port}, code from {source}")
        h.canary.reset()
        await asyncio.sleep(min(seconds, 3.0))
        print(
            f"quiet     nothing else running: RSS {mib(h.rss.current_bytes())};"
            f" canary: {h.canary.stats().line()}"
        )
        guess = await _guess(h.port, seconds)
        print(
            f"guess     one username, one client: {guess.per_s(401):.1f} passwords checked/s"
            f" ({guess.statuses[401]} in {guess.elapsed_s:.1f} s); {guess.line()}"
        )
        stuffing = await _stuffing(h.port, seconds)
        print(
            f"stuffing  a new username each time, one client: {stuffing.per_s(401):.1f}"
            f" passwords checked/s; {stuffing.line()}"
        )
        for kind in ("register", "login"):
            flood = await _flood(h, kind, clients, seconds)
            done = 201 if kind == "register" else 200
            print(
                f"{kind:<9} flood, {clients} clients: {flood.tally.per_s(done):.1f} {done}/s;"
                f" {flood.tally.line()}"
            )
            print(
                f"          server RSS {mib(flood.rss_before)} before, peak {mib(flood.rss_peak)}"
                f" (+{mib(flood.rss_peak - flood.rss_before)}); canary: {flood.canary}"
            )
        if h.canary.closed_reason:
            print(f"canary: {h.canary.closed_reason}")


def main() -> int:
    """Parse the arguments and run every phase once."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=16, help="clients of each flood")
    args = parser.parse_args()
    if not 0 < args.seconds <= _MAX_SECONDS or not 0 < args.clients <= _MAX_CLIENTS:
        parser.error(
            f"--seconds must be in (0, {_MAX_SECONDS:g}], --clients in [1, {_MAX_CLIENTS}]"
        )
    asyncio.run(_run(args.seconds, args.clients))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
