"""WriteCoalescer: during a hold, each writer gets its frames in one call, in order."""

from __future__ import annotations

import asyncio

import pytest

from baatcheet.engine.coalesce import WriteCoalescer


class _Writer:
    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []

    def write_held(self, frames: list[bytes]) -> None:
        self.calls.append(list(frames))


async def _next_turn() -> None:
    await asyncio.sleep(0)


async def test_held_frames_reach_each_writer_in_one_call_in_order() -> None:
    writes = WriteCoalescer()
    alice, bob = _Writer(), _Writer()
    writes.hold()
    writes.add(alice, b"a1")
    writes.add(bob, b"b1")
    writes.add(alice, b"a2")
    assert alice.calls == [] and bob.calls == []
    await _next_turn()
    assert alice.calls == [[b"a1", b"a2"]]
    assert bob.calls == [[b"b1"]]
    assert writes.held is None


async def test_callbacks_queued_before_the_hold_join_it() -> None:
    """The burst is everything already on the ready queue: e.g. all woken committers."""
    writes = WriteCoalescer()
    alice = _Writer()
    loop = asyncio.get_running_loop()

    def resumed_sender(frame: bytes) -> None:
        writes.hold()
        writes.add(alice, frame)

    loop.call_soon(resumed_sender, b"first")
    loop.call_soon(resumed_sender, b"second")
    await _next_turn()
    await _next_turn()
    assert alice.calls == [[b"first", b"second"]]


async def test_a_hold_after_the_flush_starts_a_new_burst() -> None:
    writes = WriteCoalescer()
    alice = _Writer()
    writes.hold()
    writes.add(alice, b"one")
    await _next_turn()
    writes.hold()
    writes.add(alice, b"two")
    await _next_turn()
    assert alice.calls == [[b"one"], [b"two"]]


class _BrokenWriter:
    def write_held(self, frames: list[bytes]) -> None:
        raise RuntimeError("transport is closed")


async def test_a_writer_that_fails_does_not_cost_the_others_their_frames(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writes = WriteCoalescer()
    alice = _Writer()
    writes.hold()
    writes.add(_BrokenWriter(), b"lost")
    writes.add(alice, b"kept")
    await _next_turn()
    assert alice.calls == [[b"kept"]]
    assert "transport is closed" in caplog.text


async def test_an_empty_hold_writes_nothing() -> None:
    writes = WriteCoalescer()
    writes.hold()
    writes.hold()
    await _next_turn()
    assert writes.held is None


def test_adding_outside_a_hold_is_a_programming_error() -> None:
    with pytest.raises(AssertionError):
        WriteCoalescer().add(_Writer(), b"x")
