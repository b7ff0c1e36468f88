"""One timer for every connection's access-token expiry, instead of one per connection.

A ``/chat`` socket ends when its access token expires (unless ``auth:refresh`` moved the
expiry). A loop timer per socket costs a timer handle and a heap entry on each of tens of
thousands of idle connections; here sockets wait in buckets keyed by their expiry
instant, and one loop timer fires at the earliest bucket. A JWT's ``exp`` is in whole
seconds, so every token issued in the same second shares a bucket.

A bucket is an insertion-ordered dict used as a set, so a socket that disconnects or
refreshes leaves its bucket at once and is never held in memory until its old expiry.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Expiring", "ExpiryQueue"]


class Expiring(Protocol):
    """Something that ends at a wall-clock instant."""

    @property
    def expires_at_ms(self) -> int:
        """When it ends, in milliseconds since the epoch."""

    def expire(self) -> None:
        """The instant passed."""


class ExpiryQueue:
    """Calls each added owner's ``expire`` once its ``expires_at_ms`` has passed.

    Owners are hashed by identity; each is in the queue at most once. ``expire`` runs in
    the loop's callback, not in a task, and never before the instant (the wall clock is
    read again when the timer fires, so a loop clock running ahead only re-arms it).

    Args:
        clock: Wall-clock seconds since the epoch (``time.time``; tests pass their own).
    """

    __slots__ = ("_buckets", "_clock", "_instants", "_timer", "_timer_at")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._buckets: dict[int, dict[Expiring, None]] = {}
        """Per expiry instant (ms), the owners that end then, in the order added."""
        self._instants: list[int] = []
        """Keys of ``_buckets`` as a heap; may hold keys whose bucket is gone (skipped)."""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None

    def add(self, owner: Expiring) -> None:
        """Expire ``owner`` at its ``expires_at_ms`` (remove it first if its instant moved)."""
        at = owner.expires_at_ms
        bucket = self._buckets.get(at)
        if bucket is None:
            bucket = self._buckets[at] = {}
            heapq.heappush(self._instants, at)
            if self._timer_at is None or at < self._timer_at:
                self._arm(at)
        bucket[owner] = None

    def discard(self, owner: Expiring, at_ms: int) -> None:
        """Forget ``owner``, added for the instant ``at_ms``; nothing if it is not there."""
        bucket = self._buckets.get(at_ms)
        if bucket is None:
            return
        bucket.pop(owner, None)
        if not bucket:
            # Its key stays in the heap until it comes up; a timer armed for it then
            # finds nothing and moves on to the next instant.
            del self._buckets[at_ms]

    def _arm(self, at_ms: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at_ms
        delay = max(0.0, at_ms / 1000 - self._clock())
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        instants = self._instants
        now_ms = self._clock() * 1000
        while instants and instants[0] <= now_ms:
            # The bucket leaves before its owners run, so an owner that is added again
            # from its expire (for a later instant) starts a fresh bucket.
            bucket = self._buckets.pop(heapq.heappop(instants), None)
            for owner in bucket or ():
                owner.expire()
        if instants:
            self._arm(instants[0])
