"""Results of several generator processes are merged as one generator's would be."""

from __future__ import annotations

import pytest

from baatcheet.loadtest.histogram import Histogram, merge_histograms
from baatcheet.loadtest.runner import _shares
from baatcheet.loadtest.scenarios import CLIENTS_PER_GENERATOR, SCENARIOS, Driver, scenario


def _export(samples_us: list[int], bucket_us: int = 10) -> dict[str, object]:
    """What loadgen.js exports for these samples."""
    counts: dict[int, int] = {}
    for us in samples_us:
        counts[us // bucket_us] = counts.get(us // bucket_us, 0) + 1
    return {
        "bucket_us": bucket_us,
        "max_us": max(samples_us, default=0),
        "buckets": [[b, n] for b, n in sorted(counts.items())],
    }


def test_merged_percentiles_are_those_of_all_samples_not_an_average() -> None:
    fast = _export([1_000] * 98)  # one generator: every connect took 1 ms
    slow = _export([9_000] * 2)  # another: 2 connects took 9 ms

    merged = merge_histograms([fast, slow]).summary()

    # 98 % of all samples are 1 ms: p50 and p90 stay there; p99 falls among the slow ones.
    assert merged["count"] == 100
    assert merged["p50_ms"] == 1.01
    assert merged["p90_ms"] == 1.01
    assert merged["p99_ms"] == 9.01
    assert merged["max_ms"] == 9.0


def test_merging_one_export_changes_nothing() -> None:
    samples = [250, 1_000, 1_000, 4_000, 120_000]
    alone = Histogram.from_export(_export(samples)).summary()
    assert merge_histograms([_export(samples)]).summary() == alone
    assert alone["p50_ms"] == 1.01
    assert alone["max_ms"] == 120.0


def test_histograms_of_different_bucket_widths_are_refused() -> None:
    with pytest.raises(ValueError, match="bucket widths differ"):
        merge_histograms([_export([100]), _export([100], bucket_us=100)])


def test_no_samples_give_no_percentiles() -> None:
    assert merge_histograms([]).summary()["p99_ms"] is None


@pytest.mark.parametrize("total, parts", [(19_900, 3), (1_000, 2), (7, 3), (2, 4)])
def test_clients_are_dealt_to_generators_without_loss(total: int, parts: int) -> None:
    shares = _shares(total, parts)
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_full_runs_fit_each_generator_within_its_open_files(name: str) -> None:
    for phase in scenario(name).phases:
        if phase.driver is Driver.SINGLE:
            continue
        count = phase.generator_count(None)
        assert max(_shares(phase.clients, count)) <= CLIENTS_PER_GENERATOR
        # Asking for fewer processes than the files allow still gets enough of them.
        assert phase.generator_count(1) == count


def test_full_storm_and_idle_loads_are_the_published_ones() -> None:
    storm = scenario("storm").phases[0]
    assert (storm.clients, storm.restart_clients) == (19_900, 10_000)
    assert storm.generator_count(None) >= 2
    idle_chat = scenario("idle-chat").phases[0]
    assert (idle_chat.clients, idle_chat.nsp, idle_chat.hold_secs) == (19_900, "/chat", 60)
    idle = next(p for p in scenario("fanout").phases if p.name == "idle")
    assert (idle.clients, idle.hold_secs) == (19_900, 60)
    assert scenario("chat").servers == ("node", "baatcheet", "baatcheet-normal")
