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
from baatcheet.store import ReceiptOutcome, Store, User

__all__ = ["ReceiptState", "Receipts"]


class ReceiptState(StrEnum):
    """How far a message got with one reader."""

    DELIVERED = "delivered"
    READ = "read"


class Receipts:
    """Validates and stores receipts; the handler relays the ones that moved a cursor."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, reader: User, request: Receipt, state: ReceiptState) -> bool:
        """Store the receipt of a member (the caller checked membership); whether it moved
        the reader's cursor, i.e. whether it is news for the room.

        Raises ``EventError`` (``not_found``) if the message is not in that room.
        """
        outcome = await self._store.advance_receipt(
            request.roomId, reader.id, request.messageId, read=state is ReceiptState.READ
        )
        if outcome is ReceiptOutcome.NO_SUCH_MESSAGE:
            raise refuse(
                ErrorCode.NOT_FOUND,
                f"messageId: no message {request.messageId} in room {request.roomId}",
            )
        return outcome is ReceiptOutcome.MOVED
