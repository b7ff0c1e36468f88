"""The reconnection schedule is socket.io-client's: doubling, jittered, capped."""

from __future__ import annotations

import pytest

from baatcheet.client import Backoff


def test_without_jitter_each_delay_doubles_up_to_the_cap() -> None:
    backoff = Backoff(min=1.0, max=5.0, jitter=0)
    assert [backoff.duration(0.5) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.attempts == 5


def test_reset_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(min=0.1, max=10.0, jitter=0)
    backoff.duration(0.0)
    backoff.duration(0.0)
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.duration(0.0) == pytest.approx(0.1)


# rand's first decimal picks the direction (even: shorter, odd: longer), as in backo2.js.
@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.05, 0.975), (0.15, 1.075), (0.999, 1.499), (0.0, 1.0)],
)
def test_jitter_moves_a_delay_by_at_most_its_share_in_the_direction_rand_picks(
    rand: float, expected: float
) -> None:
    backoff = Backoff(min=1.0, max=10.0, jitter=0.5)
    assert backoff.duration(rand) == pytest.approx(expected)


def test_jitter_never_exceeds_the_cap() -> None:
    backoff = Backoff(min=4.0, max=5.0, jitter=0.5)
    assert backoff.duration(0.999) == 5.0  # 4 s + 2 s of jitter would be 6


@pytest.mark.parametrize(("low", "high", "jitter"), [(-1.0, 1.0, 0.5), (1.0, 2.0, 1.5)])
def test_impossible_settings_are_refused(low: float, high: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="must"):
        Backoff(min=low, max=high, jitter=jitter)
