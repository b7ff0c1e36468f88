"""The presence port: who is online in which room, for the whole cluster.

A user is *online in a room* while at least one of their sockets is connected, on any
node, and they are a member of the room; several tabs of one user make one presence.
The handlers tell the port what happened (a socket connected or left, a user joined or
left a room) and announce the :class:`PresenceChange` values it returns as ``presence``
events, through the namespace broadcast, which reaches every node.

Implementations: :mod:`~baatcheet.chat.presence_memory` (one node) and
:mod:`~baatcheet.chat.presence_redis` (a cluster sharing one Redis).

Contract (every implementation):
    * Each transition is reported exactly once, cluster-wide: by the call that caused it,
      or, for what nobody's call causes (a node that died without saying goodbye, state
      restored after a Redis outage), by one node's :meth:`PresenceListener.presence_changed`.
    * Calls made by one node take effect in the order it made them; in particular a
      socket's :meth:`Presence.disconnect` never overtakes its own :meth:`Presence.connect`
      when the caller awaits the one before starting the other.
    * :meth:`Presence.connect`, :meth:`Presence.disconnect`, :meth:`Presence.join` and
      :meth:`Presence.leave` never raise for an unreachable back end: they return no
      change, and the implementation catches up (and reports the difference) once the
      back end is back. :meth:`Presence.online` does raise
      :class:`~baatcheet.errors.ClusterUnavailableError` then, since it has nothing true
      to answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from baatcheet.store import User

__all__ = ["Presence", "PresenceChange", "PresenceListener"]


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """A user came online (``online``) or went offline in a room."""

    room_id: int
    user: User
    online: bool


class PresenceListener(Protocol):
    """What a presence implementation may call on the chat layer (its way up)."""

    def presence_changed(self, changes: list[PresenceChange]) -> None:
        """Announce transitions found in the background (a dead node swept, a resync)."""

    def local_rooms(self) -> Mapping[int, frozenset[int]]:
        """The rooms of this node's sockets, by user id: what a resync restores.

        Read from the sockets themselves, so it includes rooms joined through another
        node's ``sockets_join``.
        """


class Presence(Protocol):
    """Who is online in which room; see the module docstring for the contract."""

    async def start(self, listener: PresenceListener) -> None:
        """Begin background duties (a heartbeat, sweeping dead nodes); idempotent.

        Called once this node serves the chat, so the changes it reports can be broadcast.
        """

    async def close(self) -> None:
        """Stop; this node's users are shown offline (at once or within the TTL)."""

    async def connect(self, user: User, rooms: Iterable[int]) -> list[PresenceChange]:
        """One more socket of ``user``, a member of ``rooms``; where they came online."""

    async def disconnect(self, user: User) -> list[PresenceChange]:
        """One socket of ``user`` fewer; where they went offline (with their last socket)."""

    async def join(self, room_id: int, user: User) -> list[PresenceChange]:
        """``user`` is now a member of the room; they come online there if connected."""

    async def leave(self, room_id: int, user: User) -> list[PresenceChange]:
        """``user`` is no member of the room any more; they go offline there if shown."""

    async def online(self, room_id: int) -> list[User]:
        """Users online in the room, on every node, ordered by id."""
