"""One timer for every session's heartbeat, instead of one timer per session.

A loop timer handle costs about half a kilobyte; with tens of thousands of idle
connections that is most of what a connection weighs. Sessions instead put their
next deadline in one queue, and a single loop timer fires at the earliest one.
Entries are never removed: a session that moved its deadline simply ignores the
stale entry when it comes up (each session has at most two outstanding).

The queue is a timing wheel. Deadlines are rounded up to a ``resolution`` (a tick), and
every entry of one tick waits in that tick's bucket: adding one is a list append, and
only the ticks themselves are kept in order. 20,000 idle sessions pinged every 25 s
would otherwise wake the loop 1,600 times a second, each wake for one session; at a
quarter-second tick the loop wakes four times a second and pings hundreds of sessions in
one pass, and their pongs come back together too.
"""

from __future__ import annotations

import asyncio
import heapq
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

    Entries of one tick are served in the order they were added; ticks in time order.

    Args:
        resolution: Seconds; a deadline is served at the next multiple of it (0: exactly).
    """

    __slots__ = ("_buckets", "_resolution", "_ticks", "_timer", "_timer_at")

    def __init__(self, resolution: float = 0.0) -> None:
        if resolution < 0:
            raise ValueError(f"resolution must not be negative, not {resolution}")
        self._resolution = resolution
        self._buckets: dict[float, list[tuple[float, Timed]]] = {}
        """Per tick, the (deadline, owner) entries due then."""
        self._ticks: list[float] = []
        """The keys of ``_buckets``, as a heap."""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets.values())

    def push(self, deadline: float, owner: Timed) -> None:
        """Note that ``owner`` is due at ``deadline`` (loop time), or a little after it."""
        resolution = self._resolution
        tick = deadline
        if resolution:
            tick = math.ceil(deadline / resolution) * resolution
            # Float rounding: a deadline is never served early. (Not max(): a generic
            # builtin call costs several times this comparison, on every heartbeat.)
            if tick < deadline:  # noqa: PLR1730
                tick = deadline
        bucket = self._buckets.get(tick)
        if bucket is not None:
            bucket.append((deadline, owner))
            return
        self._buckets[tick] = [(deadline, owner)]
        heapq.heappush(self._ticks, tick)
        if tick < self._timer_at:
            self._arm(tick)

    def _arm(self, tick: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = tick
        self._timer = asyncio.get_running_loop().call_at(tick, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        ticks = self._ticks
        buckets = self._buckets
        now = asyncio.get_running_loop().time()
        while ticks and ticks[0] <= now:
            # The bucket leaves the wheel before its owners run: one that pushes a deadline
            # in this same tick starts a new bucket, served later in this loop.
            for deadline, owner in buckets.pop(heapq.heappop(ticks)):
                if owner.deadline == deadline:
                    owner.on_deadline(now)
        if ticks:
            self._arm(ticks[0])

    def clear(self) -> None:
        """Drop every entry and the timer (server shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = float("inf")
        self._buckets.clear()
        self._ticks.clear()
