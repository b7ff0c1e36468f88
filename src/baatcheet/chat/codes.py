"""Error codes a chat client can act on; listed in docs/reference/chat-events.md."""

from __future__ import annotations

from enum import StrEnum

from baatcheet.errors import EventError

__all__ = ["ErrorCode", "refuse"]


class ErrorCode(StrEnum):
    """The ``error.code`` of a failed ack or REST answer."""

    INVALID = "invalid"
    """The payload does not match the event's schema; the message names the field."""
    NOT_FOUND = "not_found"
    """The room, user or message does not exist, or (for a private or direct room) this
    user is no member of it: an outsider cannot tell the two apart."""
    FORBIDDEN = "forbidden"
    """It exists and this user may see it, but not do that to it."""
    TOO_LONG = "too_long"
    """The message body is over ``max_message_length``."""
    RATE_LIMITED = "rate_limited"
    """Too many of these requests; the message says when the next one will be accepted."""
    UNAVAILABLE = "unavailable"
    """The database is down; nothing was written, retrying later is safe."""
    UNKNOWN_EVENT = "unknown_event"
    """The server has no handler for that event name."""
    INVALID_TOKEN = "invalid_token"
    """The token is forged, malformed or for another deployment: log in again."""
    TOKEN_EXPIRED = "token_expired"
    """The token was genuine but its time is up: refresh it."""
    ACCOUNT_DISABLED = "account_disabled"
    """An operator disabled this account (``baatcheet user disable``): no login, refresh or
    new connection until they enable it again."""


def refuse(code: ErrorCode, message: str) -> EventError:
    """Build the ``EventError`` that answers the client with ``code`` and ``message``."""
    return EventError(code.value, message)
