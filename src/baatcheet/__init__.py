"""Baatcheet: a fast real-time server speaking Socket.IO v5 / Engine.IO v4, and a chat system.

The names most programs need are importable from here::

    from baatcheet import Server, Settings, Socket

    server = Server(Settings(port=3000))


    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("ping", lambda: "pong")

Each is loaded on first use, so ``import baatcheet`` (which every ``baatcheet.*`` import
runs first) stays as cheap as the module you actually asked for: the protocol codecs do
not pull in the server, nor the server the client. The layers keep their own modules
(:mod:`baatcheet.sio`, :mod:`baatcheet.client`, :mod:`baatcheet.testing`, …) for
everything else.
"""

# Underscored, as the names below are the module's whole public face.
import importlib as _importlib
import typing as _typing

__version__ = "0.1.0"

__all__ = [
    "AckErrorCode",
    "AckTimeoutError",
    "BaatcheetError",
    "BroadcastOperator",
    "ClientSocket",
    "ClusterUnavailableError",
    "ConfigurationError",
    "ConnectRejected",
    "ConnectionFailedError",
    "DisconnectReason",
    "DynamicNamespace",
    "ErrorAck",
    "EventError",
    "Handshake",
    "Namespace",
    "PayloadTooLargeError",
    "ProtocolError",
    "RemoteSocket",
    "Server",
    "Settings",
    "Socket",
    "SocketClosedError",
    "SocketIOClient",
    "TestClient",
    "connect_test_client",
    "plain_error_ack",
]

_HOMES = {
    "AckErrorCode": "baatcheet.sio.error_ack",
    "AckTimeoutError": "baatcheet.errors",
    "BaatcheetError": "baatcheet.errors",
    "BroadcastOperator": "baatcheet.sio.broadcast",
    "ClientSocket": "baatcheet.client.socket",
    "ClusterUnavailableError": "baatcheet.errors",
    "ConfigurationError": "baatcheet.errors",
    "ConnectRejected": "baatcheet.errors",
    "ConnectionFailedError": "baatcheet.client.errors",
    "DisconnectReason": "baatcheet.client.reasons",
    "DynamicNamespace": "baatcheet.sio.namespace",
    "ErrorAck": "baatcheet.sio.error_ack",
    "EventError": "baatcheet.errors",
    "Handshake": "baatcheet.sio.handshake",
    "Namespace": "baatcheet.sio.namespace",
    "PayloadTooLargeError": "baatcheet.errors",
    "ProtocolError": "baatcheet.errors",
    "RemoteSocket": "baatcheet.sio.broadcast",
    "Server": "baatcheet.sio.server",
    "Settings": "baatcheet.settings",
    "Socket": "baatcheet.sio.socket",
    "SocketClosedError": "baatcheet.errors",
    "SocketIOClient": "baatcheet.client.client",
    "TestClient": "baatcheet.testing.memory_client",
    "connect_test_client": "baatcheet.testing.memory_client",
    "plain_error_ack": "baatcheet.sio.error_ack",
}
"""The module that defines each exported name (a test keeps it in step with ``__all__``)."""

if _typing.TYPE_CHECKING:
    from baatcheet.client.client import SocketIOClient
    from baatcheet.client.errors import ConnectionFailedError
    from baatcheet.client.reasons import DisconnectReason
    from baatcheet.client.socket import ClientSocket
    from baatcheet.errors import (
        AckTimeoutError,
        BaatcheetError,
        ClusterUnavailableError,
        ConfigurationError,
        ConnectRejected,
        EventError,
        PayloadTooLargeError,
        ProtocolError,
        SocketClosedError,
    )
    from baatcheet.settings import Settings
    from baatcheet.sio.broadcast import BroadcastOperator, RemoteSocket
    from baatcheet.sio.error_ack import AckErrorCode, ErrorAck, plain_error_ack
    from baatcheet.sio.handshake import Handshake
    from baatcheet.sio.namespace import DynamicNamespace, Namespace
    from baatcheet.sio.server import Server
    from baatcheet.sio.socket import Socket
    from baatcheet.testing.memory_client import TestClient, connect_test_client
else:

    def __getattr__(name: str) -> object:
        """Import an exported name from its home module on first use (PEP 562)."""
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'baatcheet' has no attribute {name!r}")
        value = getattr(_importlib.import_module(home), name)
        globals()[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        """The module's own names and every export, loaded or not."""
        return sorted({*globals(), *__all__})
