"""The shape of an error acknowledgement: what a client's ack callback gets on failure.

Socket.IO itself defines no error acks: a handler's return value is the answer, and the
protocol carries whatever arguments it is given. When the server answers in a handler's
place (no handler for the event, a handler that failed, a packet over the rate limit, an
:class:`~baatcheet.errors.EventError`), it must still pick a shape, and that shape belongs
to the application, not to this layer: so an :class:`ErrorAck` builds it, chosen per
server (``Server(error_ack=...)``) and overridable per namespace
(``namespace.error_ack = ...``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

__all__ = ["AckErrorCode", "ErrorAck", "plain_error_ack"]


class AckErrorCode(StrEnum):
    """The codes the Socket.IO layer itself answers with (applications add their own)."""

    UNKNOWN_EVENT = "unknown_event"
    """No handler is registered for the event."""
    INTERNAL = "internal"
    """A handler raised something other than ``EventError`` (the traceback is logged)."""
    RATE_LIMITED = "rate_limited"
    """The event was over the connection's packet rate limit; its handler did not run."""


class ErrorAck(Protocol):
    """Builds the single argument of an error acknowledgement.

    Called with a code (an :class:`AckErrorCode`, or the ``code`` of an ``EventError``
    a handler raised) and a message meant for the client's developer; it returns any
    JSON-serialisable value, which the client's ack callback receives as its only
    argument.
    """

    def __call__(self, code: str, message: str) -> object:
        """The ack argument for ``code`` and ``message``."""


def plain_error_ack(code: str, message: str) -> dict[str, str]:
    """The default shape: ``{"error": code, "message": message}``.

    Flat and unmistakable for a plain Socket.IO client (``if (answer.error) …``); an
    application with its own answer envelope (the chat's ``{"ok": false, "error": …}``)
    sets its own :class:`ErrorAck`.
    """
    return {"error": code, "message": message}
