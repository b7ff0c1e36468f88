"""What the chat namespace tells an observer: each ``message:send`` accepted or refused.

:data:`NO_CHAT_OBSERVER` does nothing. Calls come from the event loop's thread.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = ["NO_CHAT_OBSERVER", "ChatObserver"]


class ChatObserver(Protocol):
    """Callbacks from the ``/chat`` namespace."""

    def message_accepted(self) -> None:
        """A message was stored (or found stored, for a retry) and acknowledged."""

    def message_refused(self, reason: str) -> None:
        """A message was refused; ``reason`` is the ack's error code (``invalid``...)."""


class _NoChatObserver:
    __slots__ = ()

    def message_accepted(self) -> None:
        return None

    def message_refused(self, reason: str) -> None:
        del reason


NO_CHAT_OBSERVER: Final[ChatObserver] = _NoChatObserver()
"""The observer that observes nothing."""
