"""A histogram that costs a bisect and two additions per observation.

prometheus-client's ``Histogram.observe`` takes a lock and walks every bucket; on the
event loop's thread, where every observation of this server happens, neither is needed.
:class:`Histogram` keeps plain per-bucket counts and renders the cumulative form only when
Prometheus scrapes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client.core import HistogramMetricFamily

__all__ = ["Histogram"]


class Histogram:
    """Observations counted into buckets with the given upper bounds (``le``), plus +Inf."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("histogram bounds must be strictly increasing")
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        """Observations per bucket (not cumulative); the last is above every bound."""
        self.total = 0.0
        """The sum of every observation."""

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose bound is at least ``value``."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        """How many values were observed."""
        return sum(self.counts)

    def add_to(self, family: HistogramMetricFamily, labels: Sequence[str] = ()) -> None:
        """Add this histogram to ``family`` as one labelled series (cumulative buckets)."""
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            buckets.append((_le(bound), running))
        buckets.append(("+Inf", running + self.counts[-1]))
        family.add_metric(list(labels), buckets, self.total)


def _le(bound: float) -> str:
    """Prometheus's spelling of a bucket bound (``1.0``, ``0.005``)."""
    return repr(float(bound))
