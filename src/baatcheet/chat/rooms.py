"""Rooms and membership, with the authorisation rules enforced in one place.

Rules: anyone may see and join a public room; private rooms are seen and entered only by
members (the creator adds them); a direct room belongs to its two users and cannot be
joined or left. Posting needs membership; reading history needs membership or a
public room.
"""

from __future__ import annotations

from collections.abc import Callable

from baatcheet.chat.codes import ErrorCode, refuse
from baatcheet.store import Room, RoomKind, Store, User

__all__ = ["RoomCreated", "Rooms"]

RoomCreated = Callable[[Room, User], None]
"""Called with a new room (members included) and the user who made it."""


class Rooms:
    """Room use cases on top of the store; every refusal is an ``EventError``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._created: list[RoomCreated] = []

    def on_created(self, listener: RoomCreated) -> None:
        """Call ``listener`` after each room is created, whether by socket or REST.

        This is how the socket layer puts the members' live sockets in a room without
        this module knowing about sockets.
        """
        self._created.append(listener)

    def _announce(self, room: Room, actor: User) -> None:
        for listener in self._created:
            listener(room, actor)

    async def visible_to(self, user: User) -> list[Room]:
        """Rooms the user is in plus every public room."""
        return await self._store.rooms_for(user.id)

    async def create(self, creator: User, name: str, kind: RoomKind, members: list[str]) -> Room:
        """Create a public or private room with the creator and the named users in it."""
        if kind is RoomKind.DIRECT:
            raise refuse(ErrorCode.INVALID, "kind: use dm:open for direct rooms")
        member_ids = [creator.id]
        for username in dict.fromkeys(members):
            found = await self._store.get_credentials(username)
            if found is None:
                raise refuse(ErrorCode.NOT_FOUND, f"members: no user named {username!r}")
            member_ids.append(found.user.id)
        room = await self._store.create_room(name, kind, member_ids)
        self._announce(room, creator)
        return room

    async def join(self, user: User, room_id: int) -> Room:
        """Enter a public room (becoming a member) or a room one is a member of."""
        room = await self._existing(room_id)
        if room.kind is not RoomKind.PUBLIC:
            if not await self._store.is_member(room_id, user.id):
                raise refuse(ErrorCode.FORBIDDEN, f"room {room_id} is {room.kind}; ask a member")
            return await self._with_members(room_id)
        await self._store.add_member(room_id, user.id)
        return room

    async def leave(self, user: User, room_id: int) -> Room:
        """Stop being a member; a direct room cannot be left."""
        room = await self._existing(room_id)
        if room.kind is RoomKind.DIRECT:
            raise refuse(ErrorCode.FORBIDDEN, "a direct conversation cannot be left")
        await self._store.remove_member(room_id, user.id)
        return room

    async def open_direct(self, user: User, username: str) -> tuple[Room, User, bool]:
        """The direct room with ``username``; returns it, the peer, and whether it is new."""
        found = await self._store.get_credentials(username)
        if found is None:
            raise refuse(ErrorCode.NOT_FOUND, f"username: no user named {username!r}")
        room, created = await self._store.open_direct_room(user, found.user)
        if created:
            self._announce(room, user)
        return room, found.user, created

    async def require_member(self, user: User, room_id: int) -> Room:
        """The room, if the user is a member; else ``not_found`` / ``forbidden``."""
        room = await self._existing(room_id)
        if not await self._store.is_member(room_id, user.id):
            raise refuse(ErrorCode.FORBIDDEN, f"you are not a member of room {room_id}; join it")
        return room

    async def require_readable(self, user: User, room_id: int) -> Room:
        """The room, if it is public or the user is a member."""
        room = await self._existing(room_id)
        if room.kind is not RoomKind.PUBLIC and not await self._store.is_member(room_id, user.id):
            raise refuse(ErrorCode.FORBIDDEN, f"you are not a member of room {room_id}")
        return room

    async def _existing(self, room_id: int) -> Room:
        room = await self._store.get_room(room_id)
        if room is None:
            raise refuse(ErrorCode.NOT_FOUND, f"room {room_id} does not exist")
        return room

    async def _with_members(self, room_id: int) -> Room:
        room = await self._store.get_room(room_id, with_members=True)
        if room is None:
            raise refuse(ErrorCode.NOT_FOUND, f"room {room_id} does not exist")
        return room
