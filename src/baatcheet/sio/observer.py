"""What the Socket.IO layer tells an observer: traffic, broadcasts, acks, namespaces.

Traffic is counted where it is cheapest: each packet read once, each packet sent to one
client once, and a broadcast once for all its recipients (:meth:`ServerObserver.broadcast`
gets the fan-out and the frame size, never a call per recipient). Sizes are those of the
Engine.IO message: characters of a text packet as received (bytes for binary), and
WebSocket frame bytes as sent.

The default, :data:`NO_SERVER_OBSERVER`, does nothing; an unobserved server pays one
bound no-op call per packet in, per packet sent to one client, and per broadcast.
Calls come from the event loop's thread; an observer must not block and must not raise.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = ["NO_SERVER_OBSERVER", "RoomWatcher", "ServerObserver"]


class ServerObserver(Protocol):
    """Callbacks from :class:`~baatcheet.sio.Server`'s clients, sockets and namespaces.

    ``namespace`` is a metric label: a static namespace's name, or for a child of a
    dynamic namespace its family's pattern (children may be countless).
    """

    def packet_in(self, size: int) -> None:
        """One Engine.IO message arrived from a client (a packet or a binary attachment)."""

    def packet_out(self, size: int) -> None:
        """One packet (an event, ack, connect answer...) was written to one client."""

    def broadcast(self, namespace: str, fanout: int, size: int) -> None:
        """A broadcast frame of ``size`` bytes went to ``fanout`` local clients."""

    def ack_round_trip(self, namespace: str, seconds: float) -> None:
        """A client answered an event the server sent with an ack, ``seconds`` after."""

    def namespace_connected(self, namespace: str) -> None:
        """A client's socket joined ``namespace`` (its middleware let it in)."""

    def namespace_refused(self, namespace: str) -> None:
        """A client was refused ``namespace`` (``connect_error``)."""

    def namespace_disconnected(self, namespace: str, reason: str) -> None:
        """A socket left ``namespace``, with Socket.IO's disconnect ``reason``."""


class RoomWatcher(Protocol):
    """Told of each socket entering or leaving a room of one namespace (the admin UI).

    Off by default (``Namespace.room_watcher`` is None): a watched namespace pays a look
    at the socket's rooms per join and leave. Covers ``socket.join``/``leave`` and the
    server-side ``sockets_join``/``sockets_leave`` from any node; not the socket's own id
    room, nor the rooms a disconnecting socket leaves.
    """

    def room_joined(self, namespace: str, room: str, sid: str) -> None:
        """Socket ``sid`` entered ``room`` (it was not in it)."""

    def room_left(self, namespace: str, room: str, sid: str) -> None:
        """Socket ``sid`` left ``room`` (it was in it)."""


class _NoServerObserver:
    __slots__ = ()

    def packet_in(self, size: int) -> None:
        del size

    def packet_out(self, size: int) -> None:
        del size

    def broadcast(self, namespace: str, fanout: int, size: int) -> None:
        del namespace, fanout, size

    def ack_round_trip(self, namespace: str, seconds: float) -> None:
        del namespace, seconds

    def namespace_connected(self, namespace: str) -> None:
        del namespace

    def namespace_refused(self, namespace: str) -> None:
        del namespace

    def namespace_disconnected(self, namespace: str, reason: str) -> None:
        del namespace, reason


NO_SERVER_OBSERVER: Final[ServerObserver] = _NoServerObserver()
"""The observer that observes nothing (the server's default when metrics are off)."""
