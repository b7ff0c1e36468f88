"""The immutable broadcast operator: ``to(...).except_(...).volatile.emit(...)``.

Each method returns a new operator, so a partially built target can be kept and
reused safely (as with Node's ``BroadcastOperator``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from baatcheet._types import Room, SocketId
from baatcheet.adapters.base import BroadcastFlags, BroadcastOptions, SocketSnapshot
from baatcheet.errors import AckTimeoutError
from baatcheet.proto.socketio import EVENT, RESERVED_EVENTS, Packet

if TYPE_CHECKING:
    from baatcheet.sio.namespace import Namespace

__all__ = ["BroadcastOperator", "BroadcastTargets", "RemoteSocket", "RoomArg", "room_set"]

RoomArg = str | Iterable[str]
"""One room name, or several."""


def room_set(rooms: RoomArg) -> frozenset[Room]:
    """``rooms`` as a set of rooms: a lone string is one room, not its characters."""
    if isinstance(rooms, str):
        return frozenset((Room(rooms),))
    return frozenset(Room(room) for room in rooms)


@dataclass(frozen=True, slots=True)
class BroadcastOperator:
    """A set of target sockets in one namespace, and how to send to them."""

    nsp: Namespace
    rooms: frozenset[Room] = frozenset()
    except_rooms: frozenset[Room] = frozenset()
    is_volatile: bool = False
    is_local: bool = False
    may_compress: bool = True
    ack_timeout: float | None = None

    def to(self, rooms: RoomArg) -> BroadcastOperator:
        """Also target the sockets in ``rooms``."""
        # Built field by field: on the per-message path, dataclasses.replace's field
        # introspection costs more than the broadcast's own bookkeeping.
        return BroadcastOperator(
            self.nsp,
            self.rooms | room_set(rooms),
            self.except_rooms,
            self.is_volatile,
            self.is_local,
            self.may_compress,
            self.ack_timeout,
        )

    in_ = to

    def except_(self, rooms: RoomArg) -> BroadcastOperator:
        """Leave out the sockets in ``rooms``."""
        return replace(self, except_rooms=self.except_rooms | room_set(rooms))

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the packet for clients that are not ready to receive it right now."""
        return replace(self, is_volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """Only sockets on this node (no cluster fan-out)."""
        return replace(self, is_local=True)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Time allowed for acknowledgements in :meth:`emit_with_ack`."""
        return replace(self, ack_timeout=seconds)

    def compress(self, compress: bool) -> BroadcastOperator:
        """Whether the packet may be compressed (carried to other nodes as Node does)."""
        return replace(self, may_compress=compress)

    @property
    def options(self) -> BroadcastOptions:
        """The adapter's view of this target."""
        if (
            self.ack_timeout is None
            and self.may_compress
            and not (self.is_volatile or self.is_local)
        ):
            return BroadcastOptions(self.rooms, self.except_rooms)  # the default flags
        timeout_ms = None if self.ack_timeout is None else round(self.ack_timeout * 1000)
        flags = BroadcastFlags(self.is_volatile, self.may_compress, self.is_local, timeout_ms)
        return BroadcastOptions(self.rooms, self.except_rooms, flags)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every target socket; returns once every local write is issued."""
        _check_event(event)
        packet = Packet(EVENT, self.nsp.name, [event, *args])
        self.nsp.adapter.broadcast(packet, self.options)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send ``event`` and wait for every target client's answer, on every node.

        Every node reports how many of its clients it sent the packet to; the call is
        complete when each node has reported and that many answers arrived.

        Returns:
            One entry per client (its first ack argument, or the list of them when it
            sent several).

        Raises:
            AckTimeoutError: Some clients (or nodes) did not answer within the timeout; the
                answers that did arrive are in ``err.partial``.
        """
        _check_event(event)
        timeout = self.ack_timeout if self.ack_timeout is not None else 10.0
        operator = self if self.ack_timeout is not None else self.timeout(timeout)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        answers: list[Any] = []
        expected_clients = 0
        counted_nodes = 0
        nodes: int | None = None
        nsp = self.nsp
        sent = time.monotonic()

        def check() -> None:
            if nodes == counted_nodes and len(answers) >= expected_clients and not done.done():
                done.set_result(None)

        def on_count(count: int) -> None:
            nonlocal expected_clients, counted_nodes
            expected_clients += count
            counted_nodes += 1
            check()

        def on_ack(args: list[Any]) -> None:
            nsp.observer.ack_round_trip(nsp.label, time.monotonic() - sent)
            answers.append(args[0] if len(args) == 1 else args)
            check()

        packet = Packet(EVENT, self.nsp.name, [event, *args], self.nsp.next_ack_id())
        adapter = self.nsp.adapter
        try:
            async with asyncio.timeout(timeout):
                adapter.broadcast_with_ack(packet, operator.options, on_count, on_ack)
                nodes = 1 if self.is_local else await adapter.server_count()
                check()
                await asyncio.shield(done)
        except TimeoutError:
            raise AckTimeoutError(event, timeout, partial=list(answers)) from None
        return answers

    async def fetch_sockets(self) -> list[RemoteSocket]:
        """The target sockets, as snapshots that can still be acted on."""
        snapshots = await self.nsp.adapter.fetch_sockets(self.options)
        return [RemoteSocket(self.nsp, snapshot) for snapshot in snapshots]

    def sockets_join(self, rooms: RoomArg) -> None:
        """Make every target socket join ``rooms``."""
        self.nsp.adapter.add_sockets(self.options, room_set(rooms))

    def sockets_leave(self, rooms: RoomArg) -> None:
        """Make every target socket leave ``rooms``."""
        self.nsp.adapter.del_sockets(self.options, room_set(rooms))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every target socket (``close``: their whole connection)."""
        self.nsp.adapter.disconnect_sockets(self.options, close)


class BroadcastTargets:
    """Broadcast shortcuts that start from every socket of one namespace.

    Shared by :class:`~baatcheet.sio.namespace.Namespace` and by the server (which
    acts on ``/``); each says which namespace through :meth:`_operator`.
    """

    __slots__ = ()

    def _operator(self) -> BroadcastOperator:
        raise NotImplementedError

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every socket of the namespace."""
        self._operator().emit(event, *args)

    def to(self, rooms: RoomArg) -> BroadcastOperator:
        """Target the sockets in ``rooms``."""
        return self._operator().to(rooms)

    in_ = to

    def except_(self, rooms: RoomArg) -> BroadcastOperator:
        """Target everyone but the sockets in ``rooms``."""
        return self._operator().except_(rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        """Target everyone, dropping the packet for clients not ready for it."""
        return self._operator().volatile

    @property
    def local(self) -> BroadcastOperator:
        """Target everyone on this node only."""
        return self._operator().local

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Target everyone, for an ``emit_with_ack`` that waits ``seconds``."""
        return self._operator().timeout(seconds)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send to everyone and gather their answers."""
        return await self._operator().emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[RemoteSocket]:
        """Every socket of the namespace."""
        return await self._operator().fetch_sockets()

    def sockets_join(self, rooms: RoomArg) -> None:
        """Make every socket join ``rooms``."""
        self._operator().sockets_join(rooms)

    def sockets_leave(self, rooms: RoomArg) -> None:
        """Make every socket leave ``rooms``."""
        self._operator().sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of the namespace."""
        self._operator().disconnect_sockets(close)


class RemoteSocket:
    """A snapshot of a socket that may live on another node, returned by ``fetch_sockets``."""

    __slots__ = ("_nsp", "data", "handshake", "id", "rooms")

    def __init__(self, nsp: Namespace, snapshot: SocketSnapshot) -> None:
        self._nsp = nsp
        self.id: SocketId = snapshot.id
        self.handshake: dict[str, Any] = snapshot.handshake
        self.rooms: set[Room] = set(snapshot.rooms)
        self.data: dict[str, Any] = snapshot.data

    def _target(self) -> BroadcastOperator:
        return BroadcastOperator(self._nsp, rooms=frozenset((Room(self.id),)))

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to this socket."""
        self._target().emit(event, *args)

    def join(self, rooms: RoomArg) -> None:
        """Make this socket join ``rooms``."""
        self._target().sockets_join(rooms)

    def leave(self, rooms: RoomArg) -> None:
        """Make this socket leave ``rooms``."""
        self._target().sockets_leave(rooms)

    def disconnect(self, close: bool = False) -> None:
        """Disconnect this socket."""
        self._target().disconnect_sockets(close)


def _check_event(event: str) -> None:
    if not isinstance(event, str):
        raise TypeError(f"event name must be a str, not {type(event).__name__}")
    if event in RESERVED_EVENTS:
        raise ValueError(f"{event!r} is a reserved event name and cannot be emitted")
