"""Engine.IO v4 heartbeat timing: the server pings on a cadence and waits for each pong."""

from __future__ import annotations

import pytest

from baatcheet.proto import Heartbeat, PingWatchdog


def started(at: float = 100.0) -> Heartbeat:
    heartbeat = Heartbeat(ping_interval=25.0, ping_timeout=20.0)
    heartbeat.start(at)
    return heartbeat


def test_first_ping_is_due_one_interval_after_the_handshake() -> None:
    heartbeat = started(100.0)
    assert heartbeat.next_deadline() == 125.0
    assert not heartbeat.ping_due(124.999)
    assert heartbeat.ping_due(125.0)
    assert not heartbeat.timed_out(1000.0)


def test_after_a_ping_the_deadline_is_the_pong_timeout() -> None:
    heartbeat = started(100.0)
    heartbeat.ping_sent(125.0)
    assert heartbeat.next_deadline() == 145.0
    assert not heartbeat.ping_due(200.0)
    assert not heartbeat.timed_out(144.999)
    assert heartbeat.timed_out(145.0)


def test_a_pong_in_time_cancels_the_timeout_and_keeps_the_ping_cadence() -> None:
    heartbeat = started(100.0)
    heartbeat.ping_sent(125.0)
    heartbeat.pong_received(126.0)
    assert not heartbeat.timed_out(1000.0)
    assert heartbeat.next_deadline() == 150.0
    assert not heartbeat.ping_due(149.0)
    assert heartbeat.ping_due(150.0)


def test_a_session_that_always_answers_never_times_out() -> None:
    heartbeat = started(0.0)
    now = 0.0
    for _ in range(100):
        now = heartbeat.next_deadline()
        assert heartbeat.ping_due(now)
        heartbeat.ping_sent(now)
        heartbeat.pong_received(now + 19.0)
        assert not heartbeat.timed_out(now + 19.0)
    assert now == 2500.0


def test_a_pong_that_answers_no_ping_changes_nothing() -> None:
    heartbeat = started(100.0)
    heartbeat.pong_received(110.0)
    assert heartbeat.next_deadline() == 125.0
    heartbeat.ping_sent(125.0)
    assert heartbeat.timed_out(145.0)


def test_restarting_forgets_an_unanswered_ping() -> None:
    heartbeat = started(100.0)
    heartbeat.ping_sent(125.0)
    heartbeat.start(130.0)
    assert not heartbeat.timed_out(150.0)
    assert heartbeat.next_deadline() == 155.0


def test_using_the_heartbeat_before_start_is_a_programming_error() -> None:
    heartbeat = Heartbeat(ping_interval=1.0, ping_timeout=1.0)
    with pytest.raises(ValueError, match=r"call Heartbeat.start\(now\)"):
        heartbeat.next_deadline()
    with pytest.raises(ValueError, match=r"call Heartbeat.start\(now\)"):
        heartbeat.ping_due(5.0)


@pytest.mark.parametrize(
    ("interval", "timeout"), [(0.0, 1.0), (1.0, 0.0), (-1.0, 1.0), (float("nan"), 1.0)]
)
def test_intervals_must_be_positive(interval: float, timeout: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Heartbeat(ping_interval=interval, ping_timeout=timeout)


def test_the_client_gives_up_on_a_server_silent_for_interval_plus_timeout() -> None:
    watchdog = PingWatchdog(ping_interval=25.0, ping_timeout=20.0)
    watchdog.ping_received(100.0)
    assert watchdog.deadline == 145.0
    assert not watchdog.expired(144.9)
    watchdog.ping_received(130.0)  # a PING moves the deadline; no new timer is needed
    assert not watchdog.expired(145.0)
    assert watchdog.expired(175.0)
