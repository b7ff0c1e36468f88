"""The bisect histogram renders what prometheus-client's own histogram would."""

from __future__ import annotations

import pytest
from prometheus_client.core import HistogramMetricFamily

from baatcheet.metrics.histogram import Histogram


def _buckets(histogram: Histogram) -> dict[str, float]:
    family = HistogramMetricFamily("h", "doc")
    histogram.add_to(family)
    return {
        sample.labels["le"]: sample.value for sample in family.samples if sample.name == "h_bucket"
    }


def test_a_value_counts_in_every_bucket_whose_bound_is_not_below_it() -> None:
    histogram = Histogram((1, 5, 10))
    for value in (0, 1, 3, 5, 7, 10, 11):
        histogram.observe(value)

    assert _buckets(histogram) == {"1.0": 2, "5.0": 4, "10.0": 6, "+Inf": 7}
    assert histogram.count == 7
    assert histogram.total == 37


def test_sum_and_count_are_rendered_with_the_buckets() -> None:
    histogram = Histogram((0.5,))
    histogram.observe(0.25)
    histogram.observe(2.0)
    family = HistogramMetricFamily("h", "doc")
    histogram.add_to(family)

    values = {sample.name: sample.value for sample in family.samples if "le" not in sample.labels}
    assert values == {"h_count": 2, "h_sum": 2.25}


def test_bounds_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Histogram((1, 1, 2))
