"""What the listener tells an observer: TCP connections coming and going, writes backing up.

Called once per connection opened or closed and once each time a connection's transport
pauses writing (its kernel and user-space buffers are full: the peer reads slower than
the server writes). :data:`NO_LISTENER_OBSERVER` does nothing.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = ["NO_LISTENER_OBSERVER", "ListenerObserver"]


class ListenerObserver(Protocol):
    """Callbacks from the listener's connections, on the event loop's thread."""

    def connection_opened(self) -> None:
        """A TCP (or TLS) connection was accepted."""

    def connection_closed(self) -> None:
        """A connection is gone."""

    def write_paused(self) -> None:
        """A connection's transport asked to stop writing (its write buffer is full)."""


class _NoListenerObserver:
    __slots__ = ()

    def connection_opened(self) -> None:
        return None

    def connection_closed(self) -> None:
        return None

    def write_paused(self) -> None:
        return None


NO_LISTENER_OBSERVER: Final[ListenerObserver] = _NoListenerObserver()
"""The observer that observes nothing (the listener's default)."""
