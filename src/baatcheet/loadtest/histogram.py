"""Latency histograms exported by the generators, merged before percentiles are taken.

Each generator process records into fixed 10 µs buckets and exports the non-empty ones.
Percentiles of several processes cannot be averaged (two generators with p99 = 1 ms and
9 ms do not have a joint p99 of 5 ms), so the buckets are summed and the percentiles read
from the sum, exactly as one process holding every sample would have.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Histogram", "merge_histograms"]


@dataclass
class Histogram:
    """Counts per bucket of ``bucket_us`` microseconds; bucket ``b`` holds ``[b, b+1)``."""

    bucket_us: int = 10
    max_us: float = 0.0
    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_export(cls, data: Mapping[str, object]) -> Histogram:
        """Reads the ``{"bucket_us", "max_us", "buckets": [[b, n], ...]}`` of loadgen.js."""
        bucket_us = data.get("bucket_us", 10)
        max_us = data.get("max_us", 0)
        buckets = data.get("buckets", [])
        if not isinstance(bucket_us, int) or not isinstance(max_us, int | float):
            raise ValueError(f"not a histogram export: {dict(data)!r}")
        if not isinstance(buckets, list):
            raise ValueError("histogram buckets must be a list of [index, count] pairs")
        counts: dict[int, int] = {}
        for pair in buckets:
            index, count = pair
            counts[int(index)] = counts.get(int(index), 0) + int(count)
        return cls(bucket_us=bucket_us, max_us=float(max_us), counts=counts)

    @property
    def count(self) -> int:
        """How many samples were recorded."""
        return sum(self.counts.values())

    def add(self, other: Histogram) -> None:
        """Adds ``other``'s samples to this histogram (both must share a bucket width)."""
        if other.bucket_us != self.bucket_us:
            raise ValueError(f"bucket widths differ: {self.bucket_us} µs and {other.bucket_us} µs")
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        self.max_us = max(self.max_us, other.max_us)

    def percentile_ms(self, p: float) -> float | None:
        """The upper edge of the bucket holding the ``p``-th percentile, in ms (as loadgen.js)."""
        total = self.count
        if total == 0:
            return None
        rank = math.ceil(p / 100 * total)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return (index + 1) * self.bucket_us / 1000
        return self.max_us / 1000

    def summary(self) -> dict[str, float | int | None]:
        """``count``, ``p50_ms``, ``p90_ms``, ``p99_ms`` and ``max_ms``, rounded to 0.01 ms."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 2)

        return {
            "count": self.count,
            "p50_ms": rounded(self.percentile_ms(50)),
            "p90_ms": rounded(self.percentile_ms(90)),
            "p99_ms": rounded(self.percentile_ms(99)),
            "max_ms": rounded(self.max_us / 1000) if self.count else None,
        }


def merge_histograms(exports: Iterable[Mapping[str, object]]) -> Histogram:
    """One histogram holding the samples of every export."""
    merged: Histogram | None = None
    for export in exports:
        histogram = Histogram.from_export(export)
        if merged is None:
            merged = histogram
        else:
            merged.add(histogram)
    return merged if merged is not None else Histogram()
