"""One loop timer serves every session's heartbeat deadline."""

from __future__ import annotations

import asyncio
import math

from baatcheet.engine.deadlines import DeadlineQueue


class _Owner:
    def __init__(self, name: str, fired: list[str]) -> None:
        self.name = name
        self.deadline = float("inf")
        self._fired = fired

    def on_deadline(self, now: float) -> None:
        self._fired.append(self.name)


async def test_owners_are_called_in_deadline_order_and_moved_deadlines_are_ignored() -> None:
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    queue = DeadlineQueue()
    early, late, moved = _Owner("early", fired), _Owner("late", fired), _Owner("moved", fired)
    now = loop.time()
    for owner, delay in ((late, 0.06), (early, 0.02), (moved, 0.04)):
        owner.deadline = now + delay
        queue.push(owner.deadline, owner)
    moved.deadline = now + 0.08  # the old entry is now stale
    queue.push(moved.deadline, moved)
    await asyncio.sleep(0.12)
    assert fired == ["early", "late", "moved"]
    assert len(queue) == 0


async def test_clear_cancels_pending_deadlines() -> None:
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    queue = DeadlineQueue()
    owner = _Owner("x", fired)
    owner.deadline = loop.time() + 0.02
    queue.push(owner.deadline, owner)
    queue.clear()
    await asyncio.sleep(0.05)
    assert fired == []


class _Stamped:
    """Records the ``now`` of each call."""

    def __init__(self) -> None:
        self.deadline = float("inf")
        self.calls: list[float] = []

    def on_deadline(self, now: float) -> None:
        self.calls.append(now)


async def test_deadlines_within_one_tick_are_served_together_and_never_early() -> None:
    queue = DeadlineQueue(resolution=0.05)
    tick = math.ceil(asyncio.get_running_loop().time() / 0.05) * 0.05  # a tick boundary
    owners = [_Stamped() for _ in range(3)]
    for offset, owner in zip((0.01, 0.02, 0.03), owners, strict=True):
        owner.deadline = tick + offset
        queue.push(owner.deadline, owner)
    await asyncio.sleep(0.2)
    assert [len(owner.calls) for owner in owners] == [1, 1, 1]
    assert len({owner.calls[0] for owner in owners}) == 1  # one pass of the loop
    assert all(owner.calls[0] >= owner.deadline for owner in owners)
