"""What the engine tells an observer (metrics, an admin view) as sessions live and die.

The engine calls an :class:`EngineObserver` at the few moments that matter to an
operator: a handshake answered, a session moving to WebSocket, a session ending and why.
Nothing here is called per packet or per recipient; the Socket.IO layer reports traffic
(:mod:`baatcheet.sio.observer`). The default, :data:`NO_ENGINE_OBSERVER`, does nothing,
so an unobserved engine pays one bound no-op call per handshake and per close.

Calls come from the event loop's thread, synchronously: an observer must not block and
must not raise.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Protocol

from baatcheet.engine.session import CloseReason, TransportName

__all__ = ["NO_ENGINE_OBSERVER", "EngineObserver", "HandshakeOutcome"]


class HandshakeOutcome(StrEnum):
    """How the engine answered a request that opens a session (one without ``sid``)."""

    ACCEPTED = "accepted"
    """A session was created."""
    FORBIDDEN = "forbidden"
    """Refused with 403: origin or host not allowed, or ``allow_request`` said no."""
    DRAINING = "draining"
    """Refused with 503: the server is shutting down (the client should go elsewhere)."""
    BAD_REQUEST = "bad_request"
    """Refused with 400: unknown transport, protocol version or method."""


class EngineObserver(Protocol):
    """Callbacks from :class:`~baatcheet.engine.server.EngineServer` and its sessions."""

    def handshake(self, transport: TransportName, outcome: HandshakeOutcome) -> None:
        """A session-opening request was answered; ``ACCEPTED`` means a session now exists."""

    def upgraded(self) -> None:
        """A session moved from long-polling to WebSocket."""

    def session_closed(self, transport: TransportName, reason: CloseReason) -> None:
        """A session ended on ``transport`` (its last one) for ``reason``."""


class _NoEngineObserver:
    __slots__ = ()

    def handshake(self, transport: TransportName, outcome: HandshakeOutcome) -> None:
        del transport, outcome

    def upgraded(self) -> None:
        return None

    def session_closed(self, transport: TransportName, reason: CloseReason) -> None:
        del transport, reason


NO_ENGINE_OBSERVER: Final[EngineObserver] = _NoEngineObserver()
"""The observer that observes nothing (the engine's default)."""
