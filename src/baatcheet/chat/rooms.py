"""Room rules: who may see, list, enter, leave and write in which rooms, in one place.

Rules:

* Anyone may see and join a public room. A private room is seen only by its members,
  whom its creator names; a direct room belongs to its two users.
* To a user who may not see a room it does not exist: every event that takes a room id
  answers ``not_found`` with the same message for a private or direct room of others as
  for an id never used, so ids cannot be probed.
* Any member may leave any room. Leaving a private room is for good (only its creator
  adds members, at creation); leaving a direct room lasts until either user calls
  ``dm:open`` again, which puts both back, with the whole history.
* Posting needs membership; reading history and presence needs membership or a public
  room.
* Blocks: members who block the creator of a new room are left out of it, silently (the
  answer's member list shows who is in). Nobody can open a direct room with a user when
  either blocks the other, nor write or type in their existing one (``forbidden``):
  a direct conversation cannot hide a block anyway, and a refusal is better than
  messages that vanish.
* Each user may create ``Settings.room_creations_per_hour`` rooms an hour; beyond that
  ``RateLimitedError`` (an error ack ``rate_limited``, or HTTP 429 with ``Retry-After``)
  says when to retry. Direct rooms do not count.
* Listings are pages in name order (see :mod:`baatcheet.store.room_listing`) behind an
  opaque cursor, at most ``Settings.rooms_page_size`` rooms each.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Awaitable, Callable

import orjson

from baatcheet.chat.codes import ErrorCode, refuse
from baatcheet.chat.payloads import RoomsList
from baatcheet.chat.throttle import RateLimiter
from baatcheet.errors import EventError, RateLimitedError
from baatcheet.settings import Settings
from baatcheet.store import Room, RoomKey, RoomKind, Store, User

__all__ = ["RoomCreated", "Rooms"]

RoomCreated = Callable[[Room], Awaitable[None]]
"""Awaited with a room (members included) that has new members."""

_CURSOR_VERSION = 1
_HOUR_S = 3600.0
_MAX_ID = 2**62


class Rooms:
    """Room use cases on top of the store; every refusal is an ``EventError`` (over the
    creation limit, a ``RateLimitedError``).

    Args:
        clock: monotonic seconds, for the creation quota (tests pass their own).
    """

    def __init__(
        self, store: Store, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._page_size = settings.rooms_page_size
        self._creations: RateLimiter[int] = RateLimiter(settings.room_creations_per_hour, _HOUR_S)
        self._clock = clock
        self._created: list[RoomCreated] = []

    def on_created(self, listener: RoomCreated) -> None:
        """Await ``listener`` after each room is created or gets members back, whether by
        socket or REST, before the caller gets its answer.

        This is how the socket layer puts the members' live sockets in a room (on every
        node) without this module knowing about sockets.
        """
        self._created.append(listener)

    async def _announce(self, room: Room) -> None:
        for listener in self._created:
            await listener(room)

    # -- listing -------------------------------------------------------------------------

    async def listing(self, user: User, request: RoomsList) -> tuple[tuple[Room, ...], str | None]:
        """One page of the user's rooms (``joined``) or of the public ones, and the cursor
        of the next page (``None`` after the last)."""
        after = None
        if request.cursor is not None:
            after = _decode_cursor(request.cursor, request.scope, request.query)
        limit = min(request.limit or self._page_size, self._page_size)
        if request.scope == "public":
            page = await self._store.public_rooms(request.query, after, limit)
        else:
            page = await self._store.joined_rooms(user.id, request.query, after, limit)
        cursor = None if page.next is None else _encode_cursor(request, page.next)
        return page.rooms, cursor

    # -- membership ----------------------------------------------------------------------

    async def create(self, creator: User, name: str, kind: RoomKind, members: list[str]) -> Room:
        """Create a public or private room with the creator and the named users in it,
        except those who block the creator.

        The request is checked (unknown members are ``not_found``) before it is charged to
        the creator's hourly allowance, so a typo costs nothing.
        """
        if kind is RoomKind.DIRECT:
            raise refuse(ErrorCode.INVALID, "kind: use dm:open for direct rooms")
        named = [
            (await self._user_named(username, "members")).id for username in dict.fromkeys(members)
        ]
        blockers = {pair[0] for pair in await self._store.find_blocks(named, [creator.id])}
        # take() never awaits, so however many requests of one user run concurrently,
        # no more than the allowance get past this line.
        if wait_s := self._creations.take(creator.id, self._clock()):
            raise RateLimitedError(
                "room_creations",
                wait_s,
                f"you may create {self._creations.limit} rooms an hour;"
                f" retry in {math.ceil(wait_s)} s",
            )
        member_ids = [creator.id, *(uid for uid in named if uid not in blockers)]
        room = await self._store.create_room(name, kind, member_ids)
        await self._announce(room)
        return room

    async def join(self, user: User, room_id: int) -> Room:
        """Enter a public room (becoming a member) or a room one is a member of."""
        room, member = await self._visible(user, room_id)
        if room.kind is RoomKind.PUBLIC:
            if not member:
                await self._store.add_member(room_id, user.id)
            return room
        return await self._with_members(room_id)

    async def leave(self, user: User, room_id: int) -> Room:
        """Stop being a member of any room one can see (a no-op if one was not)."""
        room, _member = await self._visible(user, room_id)
        await self._store.remove_member(room_id, user.id)
        return room

    async def open_direct(self, user: User, username: str) -> Room:
        """The direct room with ``username``, created or given back its members if needed."""
        peer = await self._user_named(username, "username")
        if peer.id != user.id:
            pair = [user.id, peer.id]
            blocks = await self._store.find_blocks(pair, pair)
            if (user.id, peer.id) in blocks:
                raise refuse(ErrorCode.FORBIDDEN, f"you blocked {username}; unblock them first")
            if blocks:
                raise refuse(ErrorCode.FORBIDDEN, f"you cannot message {username}")
        room, created = await self._store.open_direct_room(user, peer)
        present = set(room.members or ())
        missing = [member for member in (user, peer) if member not in present]
        for member in missing:  # someone left it: opening it again brings them back
            await self._store.add_member(room.id, member.id)
        if missing:
            room = await self._with_members(room.id)
        if created or missing:
            await self._announce(room)
        return room

    # -- checks --------------------------------------------------------------------------

    async def require_member(self, user: User, room_id: int) -> Room:
        """The room, if the user is a member; else ``not_found`` / ``forbidden``."""
        room, member = await self._visible(user, room_id)
        if not member:
            raise refuse(ErrorCode.FORBIDDEN, f"you are not a member of room {room_id}; join it")
        return room

    async def require_readable(self, user: User, room_id: int) -> Room:
        """The room, if it is public or the user is a member; else ``not_found``."""
        room, _member = await self._visible(user, room_id)
        return room

    async def require_unblocked(self, user: User, room_id: int) -> None:
        """Refuse (``forbidden``) if the user and another member of the direct room
        ``room_id`` block each other, either way."""
        if await self._store.blocked_in_room(room_id, user.id):
            raise refuse(
                ErrorCode.FORBIDDEN,
                "this conversation is closed: one of you blocked the other; nothing was sent",
            )

    async def _visible(self, user: User, room_id: int) -> tuple[Room, bool]:
        """The room and whether the user is a member, if the user may know it exists.

        Both lookups run for every id, so the answer takes as long for a room that is
        hidden from the user as for one that does not exist.
        """
        member = await self._store.is_member(room_id, user.id)
        room = await self._store.get_room(room_id)
        if room is None or (room.kind is not RoomKind.PUBLIC and not member):
            raise _not_found(room_id)
        return room, member

    async def _with_members(self, room_id: int) -> Room:
        room = await self._store.get_room(room_id, with_members=True)
        if room is None:
            raise _not_found(room_id)
        return room

    # -- blocks --------------------------------------------------------------------------

    async def block(self, user: User, username: str) -> User:
        """Block ``username`` (idempotent); returns that user."""
        target = await self._user_named(username, "username")
        if target.id == user.id:
            raise refuse(ErrorCode.INVALID, "username: you cannot block yourself")
        await self._store.block_user(user.id, target.id)
        return target

    async def unblock(self, user: User, username: str) -> User:
        """Lift a block of ``username`` (idempotent); returns that user."""
        target = await self._user_named(username, "username")
        await self._store.unblock_user(user.id, target.id)
        return target

    async def _user_named(self, username: str, field: str) -> User:
        found = await self._store.get_credentials(username)
        if found is None:
            raise refuse(ErrorCode.NOT_FOUND, f"{field}: no user named {username!r}")
        return found.user


def _not_found(room_id: int) -> EventError:
    """The one answer for "no such room" and "not yours to know about"."""
    return refuse(
        ErrorCode.NOT_FOUND, f"room {room_id} not found (it does not exist or you are no member)"
    )


def _encode_cursor(request: RoomsList, key: RoomKey) -> str:
    """Where the next page starts, bound to the listing (scope and query) it continues."""
    raw = orjson.dumps([_CURSOR_VERSION, request.scope, request.query, key.name_key, key.room_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: str, scope: str, query: str) -> RoomKey:
    """The key in a cursor of :func:`_encode_cursor`, or ``invalid``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, its_scope, its_query, name_key, room_id = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise refuse(ErrorCode.INVALID, "cursor: not a cursor this server gave out") from None
    if (
        version != _CURSOR_VERSION
        or not isinstance(name_key, str)
        or type(room_id) is not int
        or not 0 <= room_id <= _MAX_ID
    ):
        raise refuse(ErrorCode.INVALID, "cursor: not a cursor this server gave out")
    if (its_scope, its_query) != (scope, query):
        raise refuse(
            ErrorCode.INVALID,
            "cursor: it continues another listing; send the same scope and query, or no cursor",
        )
    return RoomKey(name_key, room_id)
