"""Who is online in which room, on this node.

Pure bookkeeping, no I/O: the handlers ask what changed and emit ``presence`` events.
A user counts as online in a room while at least one of their sockets is connected and
they are a member; several tabs of one user make one presence.
"""

from __future__ import annotations

from collections import defaultdict

from baatcheet.store import User

__all__ = ["Presence"]


class Presence:
    """Reference counts of connected sockets per (room, user)."""

    def __init__(self) -> None:
        self._counts: defaultdict[int, dict[User, int]] = defaultdict(dict)

    def enter(self, room_id: int, user: User) -> bool:
        """Count one more socket of ``user`` in the room; true if they just came online."""
        users = self._counts[room_id]
        users[user] = users.get(user, 0) + 1
        return users[user] == 1

    def exit(self, room_id: int, user: User) -> bool:
        """Count one socket fewer; true if that was their last one (they went offline)."""
        users = self._counts.get(room_id)
        if users is None or user not in users:
            return False
        users[user] -= 1
        if users[user] > 0:
            return False
        del users[user]
        if not users:
            del self._counts[room_id]
        return True

    def online(self, room_id: int) -> list[User]:
        """Users online in the room, ordered by id."""
        return sorted(self._counts.get(room_id, {}), key=lambda user: user.id)
