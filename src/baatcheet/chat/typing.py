"""Typing indicators that switch themselves off.

A client says ``typing:start`` while the user types and may forget ``typing:stop``
(closed tab, lost network), so every indicator expires ``typing_expiry_ms`` after the
last start. The tracker only keeps timers; the caller's ``on_change`` callback emits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from baatcheet.store import User

__all__ = ["TypingTracker"]

OnChange = Callable[[int, User, bool], None]


class TypingTracker:
    """Per (room, user) typing state with an expiry timer."""

    def __init__(self, expiry_s: float, on_change: OnChange) -> None:
        self._expiry_s = expiry_s
        self._on_change = on_change
        self._timers: dict[tuple[int, User], asyncio.TimerHandle] = {}

    def start(self, room_id: int, user: User) -> None:
        """Mark typing (announcing it if new) and push the expiry back."""
        key = (room_id, user)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(self._expiry_s, self._expire, key)
        if timer is None:
            self._on_change(room_id, user, True)

    def stop(self, room_id: int, user: User) -> None:
        """Clear the indicator now (announcing it if it was on)."""
        timer = self._timers.pop((room_id, user), None)
        if timer is not None:
            timer.cancel()
            self._on_change(room_id, user, False)

    def is_typing(self, room_id: int, user: User) -> bool:
        """Whether the indicator is on."""
        return (room_id, user) in self._timers

    def _expire(self, key: tuple[int, User]) -> None:
        if self._timers.pop(key, None) is not None:
            self._on_change(key[0], key[1], False)
