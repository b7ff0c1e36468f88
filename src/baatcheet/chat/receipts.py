"""Delivery and read receipts: sending → sent (ack) → delivered → read.

A receipt is checked (the reader is a member, the message is in that room), stored as
the reader's cursor for the room, and relayed to everyone else in the room. A receipt
covers the message and everything before it, so one receipt for the newest message tells
every earlier author too; that is why it goes to the room and not only to the message's
author, and why a cursor per member and room is all there is to store. A receipt that
does not move the cursor (a second tab, an older message) is acknowledged but not
relayed. A sender who reloads learns the states of its messages from the cursors that
come with the room's history.
"""

from __future__ import annotations

from enum import StrEnum

from baatcheet.chat.codes import ErrorCode, refuse
from baatcheet.chat.payloads import Receipt
from baatcheet.chat.rooms import Rooms
from baatcheet.store import Message, ReceiptCursors, Store, User

__all__ = ["ReceiptState", "Receipts"]


class ReceiptState(StrEnum):
    """How far a message got with one reader."""

    DELIVERED = "delivered"
    READ = "read"


class Receipts:
    """Validates and stores receipts; the handler relays the ones that moved a cursor."""

    def __init__(self, store: Store, rooms: Rooms) -> None:
        self._store = store
        self._rooms = rooms

    async def record(self, reader: User, request: Receipt, state: ReceiptState) -> Message | None:
        """Store the receipt; the message it covers if the reader's cursor moved, else None.

        Raises ``EventError`` if the room or message is unknown or the reader is no member.
        """
        message = await self._check(reader, request)
        moved = await self._store.advance_receipt(
            message.room_id, reader.id, message.id, read=state is ReceiptState.READ
        )
        return message if moved else None

    async def cursors(self, reader: User, room_id: int) -> ReceiptCursors:
        """How far the room's other members got, for a reader who may see the room."""
        await self._rooms.require_readable(reader, room_id)
        return await self._store.receipt_cursors(room_id, reader.id)

    async def _check(self, reader: User, request: Receipt) -> Message:
        await self._rooms.require_member(reader, request.roomId)
        message = await self._store.get_message(request.messageId)
        if message is None or message.room_id != request.roomId:
            raise refuse(
                ErrorCode.NOT_FOUND,
                f"messageId: no message {request.messageId} in room {request.roomId}",
            )
        return message
