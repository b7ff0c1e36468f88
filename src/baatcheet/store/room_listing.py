"""Room listings as keyset-paged SQL: the order, the name key and the prefix search.

Every listing is ordered by ``(name_key, id)`` where ``name_key`` is the room's name
case-folded; a page is "the next ``limit`` rooms after this key", so its cost does not
grow with how far into the listing it is. A search for a prefix is the range of keys
``[folded prefix, the smallest string above every string with that prefix)``: one
contiguous stretch of the index ``(kind, name_key, id)``, because both databases compare
the key code point by code point (see ``schema.NAME_KEY``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, tuple_

from baatcheet.store.base import RoomKey, RoomKind
from baatcheet.store.schema import memberships, rooms

__all__ = ["joined_page", "name_key", "prefix_bounds", "public_page"]

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def name_key(name: str) -> str:
    """The key a room named ``name`` is listed and searched by (its case folding).

    Folding maps each character on its own, so the key of a prefix is a prefix of the key:
    a case-insensitive prefix search is a prefix search on keys.
    """
    return name.casefold()


def prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """The key range ``[low, high)`` holding exactly the keys that start with ``prefix``'s.

    ``high`` is the folded prefix with its last code point raised by one (skipping the
    surrogates, which no stored text holds); ``None`` when no string is above the range.
    """
    low = name_key(prefix)
    head = low
    while head:
        following = ord(head[-1]) + 1
        if following in _SURROGATES:
            following = _SURROGATES.stop
        if following <= _MAX_CODE_POINT:
            return low, head[:-1] + chr(following)
        head = head[:-1]
    return low, None


def _listed(query: Select[Any], prefix: str, after: RoomKey | None, limit: int) -> Select[Any]:
    """Narrow ``query`` to the prefix and to keys after ``after``; one extra row tells
    whether another page follows."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    low, high = prefix_bounds(prefix)
    if low:
        query = query.where(rooms.c.name_key >= low)
    if high is not None:
        query = query.where(rooms.c.name_key < high)
    if after is not None:
        query = query.where(
            tuple_(rooms.c.name_key, rooms.c.id) > tuple_(after.name_key, after.room_id)
        )
    return query.order_by(rooms.c.name_key, rooms.c.id).limit(limit + 1)


_COLUMNS = (rooms.c.id, rooms.c.name, rooms.c.kind, rooms.c.name_key)


def public_page(prefix: str, after: RoomKey | None, limit: int) -> Select[Any]:
    """Public rooms: a range scan of ``ix_rooms_kind_name_key_id``."""
    query = select(*_COLUMNS).where(rooms.c.kind == RoomKind.PUBLIC.value)
    return _listed(query, prefix, after, limit)


def joined_page(user_id: int, prefix: str, after: RoomKey | None, limit: int) -> Select[Any]:
    """The user's rooms: their memberships (``ix_memberships_user_id``), then sorted."""
    query = (
        select(*_COLUMNS)
        .join(memberships, memberships.c.room_id == rooms.c.id)
        .where(memberships.c.user_id == user_id)
    )
    return _listed(query, prefix, after, limit)
