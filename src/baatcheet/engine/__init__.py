"""Engine.IO v4 sessions over real transports (WebSocket and HTTP long-polling)."""

from baatcheet.engine.frames import PreparedMessage, prepare_message
from baatcheet.engine.server import AllowRequest, EngineServer
from baatcheet.engine.session import CloseReason, EngineSession, SessionHandler, TransportName

__all__ = [
    "AllowRequest",
    "CloseReason",
    "EngineServer",
    "EngineSession",
    "PreparedMessage",
    "SessionHandler",
    "TransportName",
    "prepare_message",
]
