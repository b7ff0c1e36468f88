"""The single-process adapter: room indexes in dictionaries, fan-out by direct writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sized
from typing import Any

from baatcheet._types import Room, SocketId
from baatcheet.adapters.base import (
    AckCollector,
    AdapterHost,
    BroadcastOptions,
    Recipient,
    SocketSnapshot,
)
from baatcheet.engine.frames import prepare_message
from baatcheet.proto.socketio import Packet, encode

__all__ = ["MemoryAdapter"]


class MemoryAdapter:
    """Rooms↔sockets indexes for one namespace on one node.

    A broadcast is encoded and framed once (:func:`prepare_message`), then handed to
    each selected socket's :meth:`Recipient.deliver`, which is a buffer check and a
    ``transport.write``: no task, queue or copy per recipient.
    """

    def __init__(
        self, namespace: str, recipients: Mapping[SocketId, Recipient], host: AdapterHost
    ) -> None:
        self.namespace = namespace
        self._recipients = recipients
        self._host = host
        self.rooms: dict[Room, set[SocketId]] = {}
        self.sids: dict[SocketId, set[Room]] = {}

    async def init(self) -> None:
        return None

    # -- membership ----------------------------------------------------------------------

    def add_all(self, sid: SocketId, rooms: Iterable[Room]) -> None:
        joined = None
        for room in rooms:
            if room == str(sid):
                continue  # implicit: see _members
            if joined is None:
                joined = self.sids.setdefault(sid, set())
            joined.add(room)
            self.rooms.setdefault(room, set()).add(sid)

    def delete(self, sid: SocketId, room: Room) -> None:
        joined = self.sids.get(sid)
        if joined is not None:
            joined.discard(room)
        self._leave_room(sid, room)

    def delete_all(self, sid: SocketId) -> None:
        for room in self.sids.pop(sid, ()):
            self._leave_room(sid, room)

    def _leave_room(self, sid: SocketId, room: Room) -> None:
        members = self.rooms.get(room)
        if members is not None:
            members.discard(sid)
            if not members:
                del self.rooms[room]

    def socket_rooms(self, sid: SocketId) -> set[Room]:
        if sid not in self._recipients:
            return set()
        return {Room(sid), *self.sids.get(sid, ())}

    def _members(self, room: Room) -> Iterable[SocketId]:
        """Members of ``room``.

        A socket's own room (its id) is not stored: it would cost two sets per idle
        connection. A room name that is a local socket's id has that one member.
        """
        members = self.rooms.get(room)
        if members is not None:
            return members
        if SocketId(room) in self._recipients:
            return (SocketId(room),)
        return ()

    # -- selection -----------------------------------------------------------------------

    def _selected(self, opts: BroadcastOptions) -> Iterable[Recipient]:
        """The recipients chosen by ``opts``, each once.

        Delivery never changes membership synchronously (slow consumers are closed on
        the next loop iteration), so iterating the live indexes is safe. Every socket of
        the namespace comes as the live mapping's values, whose size is known.
        """
        recipients = self._recipients
        excluded: set[SocketId] = set()
        for room in opts.except_rooms:
            excluded.update(self._members(room))
        if not opts.rooms:
            if excluded:
                return (r for sid, r in recipients.items() if sid not in excluded)
            return recipients.values()
        if len(opts.rooms) == 1:
            (room,) = opts.rooms
            members = self._members(room)
        else:
            union: set[SocketId] = set()
            for room in opts.rooms:
                union.update(self._members(room))
            members = union
        return (
            recipient
            for sid in members
            if sid not in excluded and (recipient := recipients.get(sid)) is not None
        )

    # -- fan-out -------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        message = prepare_message(encode(packet))
        volatile = opts.volatile
        selected = self._selected(opts)
        if isinstance(selected, Sized):
            # Every socket, the largest fan-out: its size is known, so the loop stays a
            # bare loop with nothing counted per recipient.
            for recipient in selected:
                recipient.deliver(message, volatile)
            fanout = len(selected)
        else:
            fanout = 0
            for fanout, recipient in enumerate(selected, 1):  # noqa: B007
                recipient.deliver(message, volatile)
        self._host.broadcast_sent(fanout, len(message.ws))

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        on_client_count: Callable[[int], None],
        on_ack: AckCollector,
    ) -> None:
        if packet.id is None:
            raise ValueError("broadcast_with_ack needs a packet with an ack id")
        message = prepare_message(encode(packet))
        count = 0
        for recipient in list(self._selected(opts)):
            recipient.expect_ack(packet.id, on_ack)
            if recipient.deliver(message, opts.volatile):
                count += 1
        self._host.broadcast_sent(count, len(message.ws))
        on_client_count(count)

    async def server_count(self) -> int:
        return 1

    async def all_rooms(self) -> set[Room]:
        return self.local_rooms()

    def local_rooms(self) -> set[Room]:
        """Every room of this node's sockets, their own id rooms included."""
        return {*self.rooms, *(Room(sid) for sid in self._recipients)}

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketSnapshot]:
        return self.local_snapshots(opts)

    def local_snapshots(self, opts: BroadcastOptions) -> list[SocketSnapshot]:
        """Snapshots of this node's selected sockets."""
        return [recipient.snapshot() for recipient in self._selected(opts)]

    async def server_side_emit(self, args: list[Any], *, with_ack: bool = False) -> list[Any]:
        return []  # there is no other node to tell

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[Room]) -> None:
        rooms = list(rooms)
        for recipient in list(self._selected(opts)):
            recipient.join(rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[Room]) -> None:
        rooms = list(rooms)
        for recipient in list(self._selected(opts)):
            for room in rooms:
                recipient.leave(room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        for recipient in list(self._selected(opts)):
            recipient.disconnect(close)

    async def close(self) -> None:
        return None
