"""Socket.IO v5 semantics: server, namespaces, sockets, acknowledgements, broadcasts."""

from baatcheet.errors import AckTimeoutError, ConnectRejected, EventError, SocketClosedError
from baatcheet.sio.broadcast import BroadcastOperator, RemoteSocket
from baatcheet.sio.error_ack import AckErrorCode, ErrorAck, plain_error_ack
from baatcheet.sio.handshake import Handshake
from baatcheet.sio.namespace import DynamicNamespace, Namespace
from baatcheet.sio.server import Server
from baatcheet.sio.socket import Socket

__all__ = [
    "AckErrorCode",
    "AckTimeoutError",
    "BroadcastOperator",
    "ConnectRejected",
    "DynamicNamespace",
    "ErrorAck",
    "EventError",
    "Handshake",
    "Namespace",
    "RemoteSocket",
    "Server",
    "Socket",
    "SocketClosedError",
    "plain_error_ack",
]
