"""One timer for every session's heartbeat, instead of one timer per session.

A loop timer handle costs about half a kilobyte; with tens of thousands of idle
connections that is most of what a connection weighs. Sessions instead push their
next deadline into one heap, and a single loop timer fires at the earliest one.
Entries are never removed: a session that moved its deadline simply ignores the
stale entry when it comes up (each session has at most two outstanding).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Protocol

__all__ = ["DeadlineQueue", "Timed"]


class Timed(Protocol):
    """Something with a current deadline that wants a call when it passes."""

    @property
    def deadline(self) -> float:
        """The loop time at which :meth:`on_deadline` is due (``inf`` when none)."""

    def on_deadline(self, now: float) -> None:
        """The deadline passed."""


class DeadlineQueue:
    """Calls each registered object's ``on_deadline`` once its deadline passes."""

    __slots__ = ("_counter", "_heap", "_timer", "_timer_at")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timed]] = []
        self._counter = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, deadline: float, owner: Timed) -> None:
        """Note that ``owner`` is due at ``deadline`` (loop time)."""
        heapq.heappush(self._heap, (deadline, next(self._counter), owner))
        if deadline < self._timer_at:
            self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = asyncio.get_running_loop().call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        heap = self._heap
        now = asyncio.get_running_loop().time()
        while heap and heap[0][0] <= now:
            deadline, _, owner = heapq.heappop(heap)
            if owner.deadline == deadline:
                owner.on_deadline(now)
        if heap:
            self._arm(heap[0][0])

    def clear(self) -> None:
        """Drop every entry and the timer (server shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = float("inf")
        self._heap.clear()
