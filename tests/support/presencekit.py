"""Helpers for presence tests: a recording listener and change constructors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from baatcheet.chat.presence import PresenceChange
from baatcheet.store import User

__all__ = ["Recorder", "off", "on"]


def on(room_id: int, user: User) -> PresenceChange:
    """``user`` came online in the room."""
    return PresenceChange(room_id, user, online=True)


def off(room_id: int, user: User) -> PresenceChange:
    """``user`` went offline in the room."""
    return PresenceChange(room_id, user, online=False)


@dataclass
class Recorder:
    """A presence listener that keeps what it is told and answers with ``rooms``."""

    rooms: dict[int, frozenset[int]] = field(default_factory=dict)
    changes: list[PresenceChange] = field(default_factory=list)

    def presence_changed(self, changes: list[PresenceChange]) -> None:
        self.changes.extend(changes)

    def local_rooms(self) -> Mapping[int, frozenset[int]]:
        return self.rooms
