"""The listening socket: HTTP/1.1 connections, TLS, routing, limits, health, drain.

Layering: ``sio`` → ``listener`` → ``engine``. The listener parses HTTP and hands the
Engine.IO path to an :class:`~baatcheet.engine.EngineServer`; it knows nothing of
namespaces or rooms.
"""

from baatcheet.listener.health import Check, Health
from baatcheet.listener.listener import Listener
from baatcheet.listener.observer import NO_LISTENER_OBSERVER, ListenerObserver
from baatcheet.listener.routing import HttpHandler, HttpLimits, UpgradeHandler

__all__ = [
    "NO_LISTENER_OBSERVER",
    "Check",
    "Health",
    "HttpHandler",
    "HttpLimits",
    "Listener",
    "ListenerObserver",
    "UpgradeHandler",
]
