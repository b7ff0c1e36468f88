"""The loop-lag timer reports how late it ran, once per stall."""

from __future__ import annotations

import asyncio
import time

from baatcheet.metrics.loop_lag import LoopLagMonitor


async def test_a_stalled_loop_is_reported_once_with_its_lateness() -> None:
    reports: list[float] = []
    arrived = asyncio.Event()

    def report(lag: float) -> None:
        reports.append(lag)
        arrived.set()

    monitor = LoopLagMonitor(0.05, report)
    monitor.start()
    time.sleep(0.3)  # noqa: ASYNC251 - the stall under test
    await asyncio.wait_for(arrived.wait(), 5)
    arrived.clear()
    await asyncio.wait_for(arrived.wait(), 5)  # the next one is on time again
    monitor.stop()

    assert reports[0] >= 0.2
    assert reports[1] < 0.2
    assert not monitor.running
