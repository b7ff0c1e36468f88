"""ExpiryQueue: every owner expires once, at its instant, under one loop timer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from baatcheet.chat.expiry import ExpiryQueue


class Owner:
    def __init__(self, name: str, expires_at_ms: int, log: list[tuple[str, float]]) -> None:
        self.name = name
        self.expires_at_ms = expires_at_ms
        self._log = log

    def expire(self) -> None:
        self._log.append((self.name, time.time() * 1000))


def _in(ms: int) -> int:
    return int(time.time() * 1000) + ms


async def test_owners_expire_in_order_of_their_instant_and_never_before_it() -> None:
    log: list[tuple[str, float]] = []
    queue = ExpiryQueue()
    late, early = Owner("late", _in(160), log), Owner("early", _in(60), log)
    queue.add(late)
    queue.add(early)
    await asyncio.sleep(0.25)
    assert [name for name, _ in log] == ["early", "late"]
    assert log[0][1] >= early.expires_at_ms
    assert log[1][1] >= late.expires_at_ms


async def test_owners_of_one_instant_expire_together_in_the_order_added() -> None:
    log: list[tuple[str, float]] = []
    queue = ExpiryQueue()
    at = _in(50)
    for name in ("a", "b", "c"):
        queue.add(Owner(name, at, log))
    await asyncio.sleep(0.15)
    assert [name for name, _ in log] == ["a", "b", "c"]


async def test_a_discarded_owner_never_expires_and_the_others_still_do() -> None:
    log: list[tuple[str, float]] = []
    queue = ExpiryQueue()
    at = _in(50)
    gone, kept = Owner("gone", at, log), Owner("kept", at, log)
    queue.add(gone)
    queue.add(kept)
    queue.discard(gone, at)
    await asyncio.sleep(0.15)
    assert [name for name, _ in log] == ["kept"]


async def test_an_owner_whose_instant_moved_expires_only_at_the_new_one() -> None:
    log: list[tuple[str, float]] = []
    queue = ExpiryQueue()
    owner = Owner("refreshed", _in(50), log)
    queue.add(owner)
    queue.discard(owner, owner.expires_at_ms)
    owner.expires_at_ms = _in(200)
    queue.add(owner)
    await asyncio.sleep(0.12)
    assert log == []
    await asyncio.sleep(0.18)
    assert [name for name, _ in log] == ["refreshed"]


async def test_an_earlier_owner_added_later_rearms_the_timer() -> None:
    log: list[tuple[str, float]] = []
    queue = ExpiryQueue()
    queue.add(Owner("late", _in(400), log))
    queue.add(Owner("early", _in(40), log))
    await asyncio.sleep(0.15)
    assert [name for name, _ in log] == ["early"]


async def test_an_owner_never_expires_before_its_instant_by_the_wall_clock() -> None:
    log: list[tuple[str, float]] = []
    step_back_s = 0.0
    clock: Callable[[], float] = lambda: time.time() - step_back_s  # noqa: E731
    queue = ExpiryQueue(clock=clock)
    owner = Owner("owner", int(clock() * 1000) + 50, log)
    queue.add(owner)
    await asyncio.sleep(0.02)
    step_back_s = 0.1  # the wall clock steps back while the timer is armed
    await asyncio.sleep(0.08)  # the timer has fired, 100 ms early by the wall clock
    assert log == []
    await asyncio.sleep(0.15)
    assert [name for name, _ in log] == ["owner"]
