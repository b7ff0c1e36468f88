"""One loop timer serves every session's heartbeat deadline."""

from __future__ import annotations

import asyncio

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
