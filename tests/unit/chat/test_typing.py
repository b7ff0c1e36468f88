"""Typing indicators announce changes only and switch themselves off."""

from __future__ import annotations

import asyncio

from baatcheet.chat.typing import TypingTracker
from baatcheet.store import User

ADA = User(1, "ada")


async def test_an_indicator_is_announced_once_and_expires_on_its_own() -> None:
    changes: list[tuple[int, User, bool]] = []
    tracker = TypingTracker(0.05, lambda room, user, on: changes.append((room, user, on)))
    tracker.start(7, ADA)
    tracker.start(7, ADA)
    assert changes == [(7, ADA, True)]
    await asyncio.sleep(0.1)
    assert changes == [(7, ADA, True), (7, ADA, False)]
    assert not tracker.is_typing(7, ADA)


async def test_each_start_pushes_the_expiry_back() -> None:
    changes: list[bool] = []
    tracker = TypingTracker(0.08, lambda _room, _user, on: changes.append(on))
    tracker.start(7, ADA)
    await asyncio.sleep(0.05)
    tracker.start(7, ADA)
    await asyncio.sleep(0.05)
    assert changes == [True]
    await asyncio.sleep(0.06)
    assert changes == [True, False]


async def test_stop_announces_only_when_the_indicator_was_on() -> None:
    changes: list[bool] = []
    tracker = TypingTracker(5, lambda _room, _user, on: changes.append(on))
    tracker.stop(7, ADA)
    tracker.start(7, ADA)
    tracker.stop(7, ADA)
    tracker.stop(7, ADA)
    assert changes == [True, False]
