"""One timer for every session's heartbeat, instead of one timer per session.

A loop timer handle costs about half a kilobyte; with tens of thousands of idle
connections that is most of what a connection weighs. Sessions instead push their
next deadline into one heap, and a single loop timer fires at the earliest one.
Entries are never removed: a session that moved its deadline simply ignores the
stale entry when it comes up (each session has at most two outstanding).

Deadlines are rounded up to a ``resolution`` (a wheel's tick): 20,000 idle sessions
pinged every 25 s would otherwise wake the loop 1,600 times a second, each wake for one
session; at a quarter-second resolution the loop wakes four times a second and pings
hundreds of sessions in one pass, and their pongs come back together too.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
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
    """Calls each registered object's ``on_deadline`` once its deadline passes.

    Args:
        resolution: Seconds; a deadline is served at the next multiple of it (0: exactly).
    """

    __slots__ = ("_counter", "_heap", "_resolution", "_timer", "_timer_at")

    def __init__(self, resolution: float = 0.0) -> None:
        if resolution < 0:
            raise ValueError(f"resolution must not be negative, not {resolution}")
        self._resolution = resolution
        self._heap: list[tuple[float, int, float, Timed]] = []
        self._counter = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, deadline: float, owner: Timed) -> None:
        """Note that ``owner`` is due at ``deadline`` (loop time), or a little after it."""
        resolution = self._resolution
        due = (
            max(deadline, math.ceil(deadline / resolution) * resolution) if resolution else deadline
        )
        heapq.heappush(self._heap, (due, next(self._counter), deadline, owner))
        if due < self._timer_at:
            self._arm(due)

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
            _, _, deadline, owner = heapq.heappop(heap)
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
