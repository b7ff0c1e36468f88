"""Token buckets and the bounded rate-limit table, with time passed in by hand."""

from __future__ import annotations

import pytest

from baatcheet.chat.throttle import RateLimiter, TokenBucket


def test_a_bucket_allows_a_burst_of_its_capacity_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(capacity=3, rate=0.5, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(2.0)
    assert bucket.take(101.0) == pytest.approx(1.0)  # a refusal spends nothing
    assert bucket.take(102.0) == 0.0
    assert bucket.take(102.0) == pytest.approx(2.0)


def test_a_bucket_never_holds_more_than_its_capacity() -> None:
    bucket = TokenBucket(capacity=2, rate=1.0, now=0.0)
    assert bucket.tokens(1_000.0) == 2.0
    assert [bucket.take(1_000.0) for _ in range(3)][-1] == pytest.approx(1.0)


def test_waiting_takes_nothing_and_costs_are_weighed() -> None:
    bucket = TokenBucket(capacity=4, rate=1.0, now=0.0)
    assert bucket.wait(0.0, cost=4) == 0.0
    assert bucket.take(0.0, cost=3) == 0.0
    assert bucket.wait(0.0, cost=2) == pytest.approx(1.0)
    assert bucket.tokens(0.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="exceeds the bucket's capacity"):
        bucket.wait(0.0, cost=5)


def test_a_clock_that_steps_back_grants_nothing() -> None:
    bucket = TokenBucket(capacity=1, rate=1.0, now=10.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) == pytest.approx(1.0)
    assert bucket.take(11.0) == 0.0


@pytest.mark.parametrize(("capacity", "rate"), [(0, 1.0), (1, 0.0), (-1, 1.0)])
def test_an_empty_or_still_bucket_is_a_programming_error(capacity: float, rate: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        TokenBucket(capacity, rate, now=0.0)


def test_each_key_has_its_own_allowance() -> None:
    limiter: RateLimiter[str] = RateLimiter(limit=2, period_s=60)
    assert [limiter.take("a", 0.0) for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("a", 0.0) == pytest.approx(30.0)
    assert limiter.take("b", 0.0) == 0.0
    assert limiter.wait("a", 15.0) == pytest.approx(15.0)
    assert limiter.wait("never-seen", 15.0) == 0.0
    assert limiter.take("a", 30.0) == 0.0


def test_n_per_period_is_a_burst_of_n_then_one_every_period_over_n() -> None:
    limiter: RateLimiter[str] = RateLimiter(limit=20, period_s=3600)
    assert all(limiter.take("ada", 0.0) == 0.0 for _ in range(20))
    assert limiter.take("ada", 0.0) == pytest.approx(180.0)
    assert limiter.take("ada", 180.0) == 0.0
    assert limiter.take("ada", 180.0) == pytest.approx(180.0)


def test_forgetting_a_key_restores_its_full_allowance() -> None:
    limiter: RateLimiter[str] = RateLimiter(limit=1, period_s=60)
    limiter.take("a", 0.0)
    assert limiter.wait("a", 0.0) > 0
    limiter.forget("a")
    limiter.forget("unknown")
    assert limiter.take("a", 0.0) == 0.0


def test_buckets_that_refilled_are_dropped() -> None:
    limiter: RateLimiter[int] = RateLimiter(limit=2, period_s=10)
    for key in range(100):
        limiter.take(key, now=float(key) / 100)
    assert len(limiter) == 100
    # Ten seconds on every bucket is full again: the next call sweeps them all away.
    limiter.take(-1, now=11.0)
    assert len(limiter) == 1


def test_the_table_never_grows_past_max_keys_and_forgets_the_least_recent() -> None:
    limiter: RateLimiter[str] = RateLimiter(limit=1, period_s=3600, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.take(key, 0.0)
    limiter.take("a", 1.0)  # refused, but `a` is now the most recently used
    for n in range(1_000):
        limiter.take(f"attacker-{n}", 2.0)
        assert len(limiter) <= 3
    assert len(limiter) == 3
    assert limiter.wait("a", 2.0) == 0.0  # forgotten once pushed out, like every old key
    limiter.take("a", 3.0)
    limiter.take("x", 3.0)
    limiter.take("y", 3.0)
    assert limiter.wait("a", 3.0) > 0  # the two newer keys pushed out the attackers first


@pytest.mark.parametrize(("limit", "period_s", "max_keys"), [(0, 1.0, 1), (1, 0.0, 1), (1, 1.0, 0)])
def test_a_limiter_needs_positive_settings(limit: int, period_s: float, max_keys: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RateLimiter[str](limit, period_s, max_keys=max_keys)


def test_a_refund_gives_back_what_was_taken_but_never_overfills() -> None:
    bucket = TokenBucket(capacity=2, rate=1.0, now=0.0)
    bucket.take(0.0)
    bucket.take(0.0)
    bucket.refund(0.0)
    assert bucket.tokens(0.0) == pytest.approx(1.0)
    bucket.refund(0.0, cost=5)
    assert bucket.tokens(0.0) == 2.0


def test_taking_before_the_outcome_and_refunding_successes_counts_only_failures() -> None:
    limiter: RateLimiter[str] = RateLimiter(limit=2, period_s=3600)
    for _ in range(10):  # ten successful logins in a row
        assert limiter.take("ada", 0.0) == 0.0
        limiter.refund("ada", 0.0)
    assert limiter.take("ada", 0.0) == 0.0  # then two failures
    assert limiter.take("ada", 0.0) == 0.0
    assert limiter.take("ada", 0.0) > 0
    limiter.refund("unknown", 0.0)
    assert len(limiter) == 1
