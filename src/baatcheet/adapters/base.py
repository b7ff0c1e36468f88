"""The adapter port: who is in which room, and how a broadcast reaches them.

An adapter is created per namespace. It stores the rooms↔sockets indexes and
delivers broadcasts to the namespace's local sockets through the
:class:`Recipient` callback interface, never by importing the Socket.IO layer.

Contract:
    * ``broadcast`` encodes and frames the packet once, whatever the number of
      recipients, and returns only after every local write was issued; delivery to
      one socket never waits for another.
    * Packets broadcast from one task reach each socket in the order they were sent.
    * Membership changes (``add_all``/``delete``/``delete_all``) take effect before
      the next broadcast starts.
    * A cluster adapter may deliver to remote nodes later; ``local`` broadcasts never
      leave this process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from baatcheet._types import Room, SocketId
from baatcheet.engine.frames import PreparedMessage
from baatcheet.proto.socketio import Packet

__all__ = ["AckCollector", "Adapter", "AdapterFactory", "BroadcastOptions", "Recipient"]


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who a broadcast goes to.

    Sockets in any of ``rooms`` (every socket if empty) but in none of ``except_rooms``.
    """

    rooms: frozenset[Room] = frozenset()
    except_rooms: frozenset[Room] = frozenset()
    volatile: bool = False
    local: bool = False


AckCollector = Callable[[list[Any]], None]
"""Receives one client's acknowledgement arguments."""


class Recipient(Protocol):
    """A local socket, as the adapter sees it."""

    @property
    def id(self) -> SocketId:
        """The socket id."""

    def deliver(self, message: PreparedMessage, volatile: bool) -> bool:
        """Write ``message``; False if it was dropped (volatile, slow or closed)."""

    def expect_ack(self, ack_id: int, collector: AckCollector) -> None:
        """Route the client's answer to ``ack_id`` to ``collector``."""

    def join(self, rooms: Iterable[Room]) -> None:
        """Join rooms (on behalf of a server-side ``sockets_join``)."""

    def leave(self, room: Room) -> None:
        """Leave a room."""

    def disconnect(self, close: bool = False) -> None:
        """Disconnect from the namespace (``close``: the whole connection)."""

    def describe(self) -> dict[str, Any]:
        """A serialisable snapshot (id, handshake, rooms, data) for ``fetch_sockets``."""


class Adapter(Protocol):
    """Rooms and fan-out for one namespace."""

    def add_all(self, sid: SocketId, rooms: Iterable[Room]) -> None:
        """Put ``sid`` in every room of ``rooms``."""

    def delete(self, sid: SocketId, room: Room) -> None:
        """Take ``sid`` out of ``room``."""

    def delete_all(self, sid: SocketId) -> None:
        """Take ``sid`` out of every room (it disconnected)."""

    def socket_rooms(self, sid: SocketId) -> set[Room]:
        """The rooms ``sid`` is in (empty if unknown)."""

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Send ``packet`` to every socket selected by ``opts``."""

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        on_client_count: Callable[[int], None],
        on_ack: AckCollector,
    ) -> None:
        """Like :meth:`broadcast`; reports how many clients were sent to, then each answer."""

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[dict[str, Any]]:
        """Snapshots of the selected sockets (across the cluster for cluster adapters)."""

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[Room]) -> None:
        """Make the selected sockets join ``rooms``."""

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[Room]) -> None:
        """Make the selected sockets leave ``rooms``."""

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the selected sockets."""

    async def close(self) -> None:
        """Release resources (connections to a broker)."""


AdapterFactory = Callable[[str, Mapping[SocketId, Recipient]], Adapter]
"""Builds the adapter of a namespace from its name and its live local sockets."""
