"""Delivery and read receipts: sending → sent (ack) → delivered → read.

A receipt is checked (the reader is a member, the message is in that room) and then
relayed to everyone else in the room. A receipt covers the message and everything
before it, so one receipt for the newest message tells every earlier author too; that is
why it goes to the room and not only to the message's author. Receipts are not stored:
they describe live state, and a reconnecting sender learns what was read from newer
activity rather than a replay.
"""

from __future__ import annotations

from enum import StrEnum

from baatcheet.chat.codes import ErrorCode, refuse
from baatcheet.chat.payloads import Receipt
from baatcheet.chat.rooms import Rooms
from baatcheet.store import Message, Store, User

__all__ = ["ReceiptState", "Receipts"]


class ReceiptState(StrEnum):
    """How far a message got with one reader."""

    DELIVERED = "delivered"
    READ = "read"


class Receipts:
    """Validates receipts; the handler relays them."""

    def __init__(self, store: Store, rooms: Rooms) -> None:
        self._store = store
        self._rooms = rooms

    async def check(self, reader: User, request: Receipt) -> Message:
        """The message being receipted.

        Raises ``EventError`` if the room or message is unknown or the reader is no member.
        """
        await self._rooms.require_member(reader, request.roomId)
        message = await self._store.get_message(request.messageId)
        if message is None or message.room_id != request.roomId:
            raise refuse(
                ErrorCode.NOT_FOUND,
                f"messageId: no message {request.messageId} in room {request.roomId}",
            )
        return message
