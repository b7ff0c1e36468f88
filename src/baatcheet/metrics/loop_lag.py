"""Event-loop lag: a periodic timer that measures how late it runs.

A callback scheduled for time *t* runs at *t + lag*, where *lag* is how long the loop was
busy with other work (or blocked) when *t* came. Every latency this server has — an ack,
a broadcast, a heartbeat — waits at least that long, so it is the first number to look at
when everything is slow at once. One timer per interval; nothing else is measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["LoopLagMonitor"]


class LoopLagMonitor:
    """Calls ``report(lag_seconds)`` once per ``interval_s`` while started.

    Args:
        interval_s: Time between two measurements.
        report: Receives each measurement (never negative).
    """

    def __init__(self, interval_s: float, report: Callable[[float], None]) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._interval = interval_s
        self._report = report
        self._due = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._timer is not None

    def start(self) -> None:
        """Start measuring on the running loop (idempotent)."""
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        self._due = loop.time() + self._interval
        self._timer = loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        """Stop measuring (idempotent)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._report(max(0.0, now - self._due))
        # The next one is due an interval from now, not from the late due time: a long
        # stall is reported once, not as a burst of catch-up measurements.
        self._due = now + self._interval
        self._timer = loop.call_at(self._due, self._tick)
