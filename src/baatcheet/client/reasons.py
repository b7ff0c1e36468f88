"""Why a client connection or socket ended, named exactly as the JS client names it."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DisconnectReason"]


class DisconnectReason(StrEnum):
    """The ``reason`` a ``disconnect`` handler receives (socket.io-client's strings).

    Only :attr:`IO_SERVER_DISCONNECT` and :attr:`IO_CLIENT_DISCONNECT` are deliberate;
    after any other reason the client reconnects on its own when reconnection is on.
    """

    IO_SERVER_DISCONNECT = "io server disconnect"
    """The server left the namespace (``socket.disconnect()`` on the server); no retry."""
    IO_CLIENT_DISCONNECT = "io client disconnect"
    """This client called ``disconnect()``; no retry."""
    PING_TIMEOUT = "ping timeout"
    """The server sent no PING within ``pingInterval + pingTimeout``: it is presumed dead."""
    TRANSPORT_CLOSE = "transport close"
    """The connection was closed (by the server, a proxy or the network)."""
    TRANSPORT_ERROR = "transport error"
    """The connection failed (an HTTP error on long-polling, a socket error)."""
    PARSE_ERROR = "parse error"
    """The server sent a packet this client cannot decode."""
    FORCED_CLOSE = "forced close"
    """The client closed the whole connection on purpose (its last namespace left)."""
