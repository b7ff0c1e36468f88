"""The adapter port: who is in which room, and how a broadcast reaches them, on every node.

An adapter is created per namespace. It keeps the rooms↔sockets indexes of this node's
sockets, delivers broadcasts to them through the :class:`Recipient` callback interface
(never by importing the Socket.IO layer), and, for a cluster adapter, carries the same
operations to the other nodes and gathers their answers. Server-side events from other
nodes come up through :class:`AdapterHost`.

Contract (every adapter passes ``tests/unit/adapters/test_adapter_contract.py``):
    * :meth:`Adapter.init` is awaited before the namespace takes sockets and
      :meth:`Adapter.close` when the server stops; a cluster adapter subscribes and
      unsubscribes there.
    * ``broadcast`` encodes and frames the packet once for local delivery (and once for
      the cluster), whatever the number of recipients, and returns only after every local
      write was issued; delivery to one socket never waits for another.
    * Packets broadcast from one task reach each socket in the order they were sent, on
      every node.
    * Membership changes of local sockets (``add_all``/``delete``/``delete_all``) take
      effect before the next broadcast starts.
    * ``flags.local`` operations never leave this process.
    * Cluster-wide questions (``fetch_sockets``, ``all_rooms``, ``server_side_emit`` with
      an ack, acked broadcasts) wait for exactly one answer from each other node, bounded
      by a timeout; a node that cannot reach the cluster fails them fast with
      :class:`~baatcheet.errors.ClusterUnavailableError` instead of hanging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from baatcheet._types import Room, SocketId
from baatcheet.engine.frames import PreparedMessage
from baatcheet.proto.socketio import Packet

__all__ = [
    "AckCollector",
    "Adapter",
    "AdapterFactory",
    "AdapterHost",
    "BroadcastFlags",
    "BroadcastOptions",
    "Recipient",
    "ServerSideReply",
    "SocketSnapshot",
]


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """How a broadcast is sent (the ``flags`` of Node's ``BroadcastOptions``)."""

    volatile: bool = False
    """Drop the packet for clients that cannot take it right now."""
    compress: bool = True
    """Permission to compress (kept for wire compatibility; frames are not compressed)."""
    local: bool = False
    """This node only: never published to the cluster."""
    timeout_ms: int | None = None
    """How long an acked broadcast waits for client answers."""


_NO_FLAGS = BroadcastFlags()


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who a broadcast goes to, and how.

    Sockets in any of ``rooms`` (every socket if empty) but in none of ``except_rooms``.
    """

    rooms: frozenset[Room] = frozenset()
    except_rooms: frozenset[Room] = frozenset()
    flags: BroadcastFlags = _NO_FLAGS

    @property
    def volatile(self) -> bool:
        """Shortcut for ``flags.volatile``."""
        return self.flags.volatile

    @property
    def local(self) -> bool:
        """Shortcut for ``flags.local``."""
        return self.flags.local


@dataclass(frozen=True, slots=True)
class SocketSnapshot:
    """A socket as ``fetch_sockets`` returns it, from this node or another one.

    ``handshake`` is the JSON form Node servers exchange (headers, query, auth, address,
    time, issued, url, secure, xdomain), so snapshots of Node and Python sockets mix.
    """

    id: SocketId
    handshake: dict[str, Any]
    rooms: frozenset[Room]
    data: dict[str, Any] = field(default_factory=dict)


AckCollector = Callable[[list[Any]], None]
"""Receives one client's acknowledgement arguments."""

ServerSideReply = Callable[[Any], None]
"""Sends the answer of a server-side event back to the node that asked."""


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

    def snapshot(self) -> SocketSnapshot:
        """A serialisable snapshot (id, handshake, rooms, data) for ``fetch_sockets``."""


class AdapterHost(Protocol):
    """What an adapter may call on its namespace: the way up, without importing ``sio``."""

    def on_server_side_emit(self, args: list[Any], reply: ServerSideReply | None) -> None:
        """Another node called ``server_side_emit``: ``args`` is ``[event, *args]``.

        ``reply`` is set when that node waits for an answer; call it once.
        """

    def next_ack_id(self) -> int:
        """A fresh acknowledgement id of this namespace.

        A cluster adapter sends an acked broadcast from another node with its own id:
        the sender's id means nothing here and could collide with a pending local ack.
        """

    def broadcast_sent(self, fanout: int, size: int) -> None:
        """A broadcast frame of ``size`` bytes was handed to ``fanout`` local sockets.

        Called once per local fan-out (a broadcast from this node or from another one),
        after the writes: an observer counts the broadcast without a call per recipient.
        """


class Adapter(Protocol):
    """Rooms and fan-out for one namespace, on this node and, for a cluster, all of them."""

    async def init(self) -> None:
        """Get ready (a cluster adapter subscribes its channels)."""

    async def close(self) -> None:
        """Release resources (subscriptions and connections to a broker)."""

    def add_all(self, sid: SocketId, rooms: Iterable[Room]) -> None:
        """Put local socket ``sid`` in every room of ``rooms``."""

    def delete(self, sid: SocketId, room: Room) -> None:
        """Take local socket ``sid`` out of ``room``."""

    def delete_all(self, sid: SocketId) -> None:
        """Take local socket ``sid`` out of every room (it disconnected)."""

    def socket_rooms(self, sid: SocketId) -> set[Room]:
        """The rooms local socket ``sid`` is in (empty if unknown)."""

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Send ``packet`` to every socket selected by ``opts``, on every node."""

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        on_client_count: Callable[[int], None],
        on_ack: AckCollector,
    ) -> None:
        """Like :meth:`broadcast`, for a packet with an ack id.

        ``on_client_count`` is called once per node (this one included) with how many of
        its clients were sent the packet; ``on_ack`` with each client's answer. The caller
        knows it has every count after :meth:`server_count` calls.
        """

    async def server_count(self) -> int:
        """How many nodes serve this namespace (1 without a cluster)."""

    async def all_rooms(self) -> set[Room]:
        """Every room of the namespace on every node (socket id rooms included)."""

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketSnapshot]:
        """Snapshots of the selected sockets, on every node unless ``opts.local``."""

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[Room]) -> None:
        """Make the selected sockets join ``rooms``, on every node."""

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[Room]) -> None:
        """Make the selected sockets leave ``rooms``, on every node."""

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the selected sockets, on every node."""

    async def server_side_emit(self, args: list[Any], *, with_ack: bool = False) -> list[Any]:
        """Send ``[event, *args]`` to the namespace's listeners on every *other* node.

        With ``with_ack``, wait for one answer from each other node and return them (in
        arrival order); without, return ``[]`` at once.
        """


AdapterFactory = Callable[[str, Mapping[SocketId, Recipient], AdapterHost], Adapter]
"""Builds the adapter of a namespace from its name, its live local sockets and itself."""
