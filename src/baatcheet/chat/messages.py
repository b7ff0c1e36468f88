"""Message rules: what a valid body is, and who may read a room's history.

Posting itself lives in the socket handler, which must take the message's place in the
commit order before its first ``await`` (see ``handlers.py``); it calls
:meth:`Messages.validate` and then ``Store.append_message``, and broadcasts only what
committed with ``created=True``.
"""

from __future__ import annotations

from baatcheet.chat.codes import ErrorCode, refuse
from baatcheet.chat.payloads import HistoryFetch, MessageSend
from baatcheet.chat.rooms import Rooms
from baatcheet.settings import Settings
from baatcheet.store import HistoryPage, ReceiptCursors, Store, User

__all__ = ["Messages"]


class Messages:
    """Message use cases; refusals are ``EventError``, database failures ``StoreError``."""

    def __init__(self, store: Store, rooms: Rooms, settings: Settings) -> None:
        self._store = store
        self._rooms = rooms
        self._max_length = settings.max_message_length

    def validate(self, request: MessageSend) -> None:
        """Refuse an empty or too long body (``invalid`` / ``too_long``)."""
        body = request.body
        if not body.strip():
            raise refuse(ErrorCode.INVALID, "body: must contain some non-space text")
        if len(body) > self._max_length:
            raise refuse(
                ErrorCode.TOO_LONG,
                f"body: {len(body)} characters is over the limit of {self._max_length}",
            )

    async def history(
        self, reader: User, request: HistoryFetch
    ) -> tuple[HistoryPage, ReceiptCursors]:
        """A page of the room's history, newest first, if the reader may see the room, with
        the other members' receipt cursors (so the reader's own messages show how far
        they got)."""
        await self._rooms.require_readable(reader, request.roomId)
        page = await self._store.history(request.roomId, request.before, request.limit)
        return page, await self._store.receipt_cursors(request.roomId, reader.id)
