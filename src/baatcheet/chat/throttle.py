"""Rate limits as plain data: token buckets, one or a bounded table of them keyed by anything.

Sans-I/O: nothing here reads a clock, sleeps or locks. Every call takes ``now`` (seconds on
any monotonic clock, the caller's choice) and answers at once, so a test can walk time
forward by hand, and asyncio callers need no lock (no call awaits).

A :class:`TokenBucket` holds up to ``capacity`` tokens and gains ``rate`` per second; an
action costs a token. "N per period" is a bucket of N refilled at N per period: a burst
of N, then one more every ``period / N`` — a limit that never resets all at once at a
window's edge, so a client cannot spend 2 N across one.

A :class:`RateLimiter` is a table of buckets, one per key (a client address, a username,
a user id). A bucket that has refilled to full means the same as no bucket, so it is
dropped as soon as it is seen full; and the table never holds more than ``max_keys``:
past that the least recently used bucket is forgotten (which forgives that key's debt —
the price of bounded memory against a caller with more keys than the table).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["RateLimiter", "TokenBucket"]

K = TypeVar("K", bound=Hashable)


class TokenBucket:
    """Up to ``capacity`` tokens, refilled continuously at ``rate`` per second; starts full.

    Args:
        capacity: the largest burst; must be positive.
        rate: tokens gained per second; must be positive.
        now: the current time, on the clock every later call will use.
    """

    __slots__ = ("_stamp", "_tokens", "capacity", "rate")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError(f"capacity and rate must be positive, got {capacity!r}, {rate!r}")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._tokens = self.capacity
        self._stamp = now

    def tokens(self, now: float) -> float:
        """Tokens available at ``now`` (a clock that went backwards counts as no time)."""
        elapsed = max(0.0, now - self._stamp)
        return min(self.capacity, self._tokens + elapsed * self.rate)

    def wait(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available; 0.0 if they are now. Takes nothing.

        Raises:
            ValueError: ``cost`` is more than the bucket can ever hold.
        """
        if cost > self.capacity:
            raise ValueError(f"cost {cost!r} exceeds the bucket's capacity {self.capacity!r}")
        missing = cost - self.tokens(now)
        return missing / self.rate if missing > 0 else 0.0

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens if available and return 0.0; else take nothing and return
        the seconds to wait before the same call would succeed.

        Use as ``if wait := bucket.take(now): refuse(retry_after=wait)``.
        """
        waiting = self.wait(now, cost)
        if waiting == 0.0:
            self._tokens = self.tokens(now) - cost
            self._stamp = max(self._stamp, now)
        return waiting

    def refund(self, now: float, cost: float = 1.0) -> None:
        """Give back ``cost`` tokens taken for an action that turned out not to count."""
        self._tokens = min(self.capacity, self.tokens(now) + cost)
        self._stamp = max(self._stamp, now)

    def full(self, now: float) -> bool:
        """Whether the bucket is back to ``capacity`` (indistinguishable from a new one)."""
        return self.tokens(now) >= self.capacity


class RateLimiter(Generic[K]):
    """At most ``limit`` actions per ``period_s`` for each key, in bounded memory.

    Each key gets its own :class:`TokenBucket` of ``limit`` tokens refilled at
    ``limit / period_s`` per second, created full on the key's first action.

    Args:
        limit: actions allowed in a burst, and per ``period_s`` in the long run.
        period_s: the period, in seconds.
        max_keys: most buckets kept at once (see the module docstring).
    """

    def __init__(self, limit: int, period_s: float, *, max_keys: int = 10_000) -> None:
        if limit <= 0 or period_s <= 0 or max_keys <= 0:
            raise ValueError(
                f"limit, period_s and max_keys must be positive, got {limit!r}, {period_s!r},"
                f" {max_keys!r}"
            )
        self.limit = limit
        self.period_s = period_s
        self.max_keys = max_keys
        self._rate = limit / period_s
        # Least recently used first; every access moves its key to the end.
        self._buckets: OrderedDict[K, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        """Keys currently remembered."""
        return len(self._buckets)

    def take(self, key: K, now: float, cost: float = 1.0) -> float:
        """Spend ``cost`` of ``key``'s allowance: 0.0 if allowed, else the seconds to wait
        (and nothing was spent). See :meth:`TokenBucket.take`."""
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.limit, self._rate, now)
            while len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            self._buckets[key] = bucket
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now, cost)

    def wait(self, key: K, now: float, cost: float = 1.0) -> float:
        """Seconds before ``key`` may spend ``cost``; 0.0 if it may now. Spends nothing."""
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait(now, cost)

    def refund(self, key: K, now: float, cost: float = 1.0) -> None:
        """Give back ``cost`` that ``key`` spent on an action that turned out not to count.

        Take first, refund later, when only some outcomes count (a login's *failures*):
        concurrent attempts then cannot all pass a check made before any of them counted.
        """
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.refund(now, cost)

    def forget(self, key: K) -> None:
        """Drop ``key``'s bucket: its next action starts from a full allowance."""
        self._buckets.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Drop full buckets from the least recently used end.

        Stops at the first bucket that is not full, so each call does O(1) amortised
        work; a full bucket behind it waits for a later sweep or for the size cap.
        """
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if not bucket.full(now):
                return
            del self._buckets[key]
