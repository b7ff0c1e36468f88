"""An asyncio Socket.IO v5 / Engine.IO v4 client, wire-compatible with the JS client.

::

    from baatcheet.client import SocketIOClient

    async with SocketIOClient("http://127.0.0.1:3000", auth={"token": token}) as client:
        answer = await client.emit_with_ack("ping", timeout=5)

Built on the same sans-I/O codecs as the server (:mod:`baatcheet.proto`); transports are
HTTP long-polling (httpx) and WebSocket (the ``websockets`` library).
"""

from baatcheet.client.backoff import Backoff
from baatcheet.client.client import ManagerEvent, SocketIOClient, default_transport
from baatcheet.client.engine import EngineClient
from baatcheet.client.errors import ConnectionFailedError
from baatcheet.client.handshake import EngineHandshake
from baatcheet.client.reasons import DisconnectReason
from baatcheet.client.socket import Auth, ClientSocket, EventHandler
from baatcheet.client.transport import Transport, TransportFactory, TransportTarget
from baatcheet.errors import AckTimeoutError, ConnectRejected, SocketClosedError

__all__ = [
    "AckTimeoutError",
    "Auth",
    "Backoff",
    "ClientSocket",
    "ConnectRejected",
    "ConnectionFailedError",
    "DisconnectReason",
    "EngineClient",
    "EngineHandshake",
    "EventHandler",
    "ManagerEvent",
    "SocketClosedError",
    "SocketIOClient",
    "Transport",
    "TransportFactory",
    "TransportTarget",
    "default_transport",
]
