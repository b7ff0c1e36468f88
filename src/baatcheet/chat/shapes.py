"""Records → the JSON shapes of docs/reference/chat-events.md ("Shapes")."""

from __future__ import annotations

from typing import Any

from baatcheet.store import HistoryPage, Message, ReceiptCursors, Room, User

__all__ = ["history_json", "message_json", "room_json", "user_json"]


def user_json(user: User) -> dict[str, Any]:
    """``User``: ``{id, username}``."""
    return {"id": user.id, "username": user.username}


def room_json(room: Room) -> dict[str, Any]:
    """``Room``: ``{id, name, kind, members?}``."""
    shape: dict[str, Any] = {"id": room.id, "name": room.name, "kind": room.kind.value}
    if room.members is not None:
        shape["members"] = [user_json(member) for member in room.members]
    return shape


def message_json(message: Message) -> dict[str, Any]:
    """``Message``: ``{id, roomId, author, body, clientId, ts}``."""
    return {
        "id": message.id,
        "roomId": message.room_id,
        "author": user_json(message.author),
        "body": message.body,
        "clientId": message.client_id,
        "ts": message.created_at_ms,
    }


def history_json(page: HistoryPage, cursors: ReceiptCursors) -> dict[str, Any]:
    """A history page: ``{messages, hasMore, receipts: {deliveredUpTo, readUpTo}}``.

    ``receipts`` are the other members' cursors, so the reader can show its own messages
    as delivered or read without waiting for new receipts.
    """
    return {
        "messages": [message_json(message) for message in page.messages],
        "hasMore": page.has_more,
        "receipts": {"deliveredUpTo": cursors.delivered_up_to, "readUpTo": cursors.read_up_to},
    }
