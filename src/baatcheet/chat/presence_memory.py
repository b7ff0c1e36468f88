"""Presence for a single node, in dictionaries.

The same model as the Redis implementation (per-user socket counts, and per room the
online members), without I/O: every call completes before it returns, so calls take
effect in the order they are made and there is nothing to catch up on. Nothing happens
in the background, so the listener is never called.
"""

from __future__ import annotations

from collections.abc import Iterable

from baatcheet.chat.presence import PresenceChange, PresenceListener
from baatcheet.store import User

__all__ = ["MemoryPresence"]


class MemoryPresence:
    """Socket counts per user and the online members of each room, on this node."""

    def __init__(self) -> None:
        self._sockets: dict[int, int] = {}
        self._rooms: dict[int, dict[int, User]] = {}
        """Room id → online members by user id."""
        self._shown: dict[int, set[int]] = {}
        """User id → the rooms they are shown online in (the inverse of ``_rooms``)."""

    async def start(self, listener: PresenceListener) -> None:
        del listener  # nothing ever changes in the background

    async def close(self) -> None:
        return None

    async def connect(self, user: User, rooms: Iterable[int]) -> list[PresenceChange]:
        self._sockets[user.id] = self._sockets.get(user.id, 0) + 1
        return [change for room_id in rooms if (change := self._show(room_id, user))]

    async def disconnect(self, user: User) -> list[PresenceChange]:
        left = self._sockets.get(user.id, 0) - 1
        if left > 0:
            self._sockets[user.id] = left
            return []
        self._sockets.pop(user.id, None)
        return [
            change
            for room_id in sorted(self._shown.pop(user.id, ()))
            if (change := self._hide(room_id, user))
        ]

    async def join(self, room_id: int, user: User) -> list[PresenceChange]:
        if user.id not in self._sockets:
            return []
        change = self._show(room_id, user)
        return [change] if change else []

    async def leave(self, room_id: int, user: User) -> list[PresenceChange]:
        shown = self._shown.get(user.id)
        if shown is None or room_id not in shown:
            return []
        shown.discard(room_id)
        if not shown:
            del self._shown[user.id]
        change = self._hide(room_id, user)
        return [change] if change else []

    async def online(self, room_id: int) -> list[User]:
        return sorted(self._rooms.get(room_id, {}).values(), key=lambda user: user.id)

    def _show(self, room_id: int, user: User) -> PresenceChange | None:
        members = self._rooms.setdefault(room_id, {})
        if user.id in members:
            return None
        members[user.id] = user
        self._shown.setdefault(user.id, set()).add(room_id)
        return PresenceChange(room_id, user, online=True)

    def _hide(self, room_id: int, user: User) -> PresenceChange | None:
        members = self._rooms.get(room_id)
        if members is None or members.pop(user.id, None) is None:
            return None
        if not members:
            del self._rooms[room_id]
        return PresenceChange(room_id, user, online=False)
