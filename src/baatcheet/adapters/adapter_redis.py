"""The cluster adapter: Node's ``@socket.io/redis-adapter`` 8.x protocol over a shared broker.

Local state (rooms, sockets, fan-out) is a :class:`~baatcheet.adapters.adapter_memory.
MemoryAdapter`; this class adds what crosses nodes. The meaning of each message lives in
:mod:`~baatcheet.adapters.cluster_messages`; Redis I/O lives in
:class:`~baatcheet.adapters.broker_redis.RedisBroker`, shared by every namespace of a server.

How each operation crosses the cluster (Node behaves the same unless noted):

* ``broadcast``: delivered locally, and published once (msgpack) on ``P#<nsp>#`` or on
  ``P#<nsp>#<room>#`` for exactly one room. Incoming broadcasts from other nodes and from
  the emitter are delivered locally; our own (same uid) are ignored.
* ``add_sockets`` / ``del_sockets`` / ``disconnect_sockets``: applied to local sockets at
  once, then published as requests 2/3/4 that other nodes apply; never answered. (Node
  applies its own request when Redis echoes it back; applying it at once means a
  ``sockets_join`` followed by a broadcast to that room reaches the local socket.)
* ``fetch_sockets`` / ``all_rooms`` (requests 5/1): local result plus one answer from each
  of ``server_count() − 1`` other nodes. A node missing after ``requests_timeout`` raises
  :class:`~baatcheet.errors.ClusterUnavailableError` (Node rejects too: no partial list).
* ``server_side_emit`` (request 6): with an ack, one answer per other node; on timeout
  :class:`~baatcheet.errors.AckTimeoutError` carries the answers that arrived in
  ``partial`` (Node passes them with its error). A node whose listeners never call the
  callback never answers, as in Node.
* ``broadcast_with_ack`` (request 7): every node, this one included, reports its client
  count once (type 8) and then each client's first ack argument (type 9).
* Every node answers requests 0, 1, 5, 6 (with ack) and 7 exactly once, even with no
  sockets, because Node waits for ``serverCount − 1`` answers. Answers go to the shared
  response channel, which every node reads.

While Redis is unreachable, local delivery goes on, messages for other nodes are dropped,
and cluster questions (including ``server_side_emit``, whose only audience is other nodes)
raise :class:`~baatcheet.errors.ClusterUnavailableError` at once; requests in flight fail
the same way.

Which broadcasts a node receives depends on the broker's ``subscription`` mode
(:class:`~baatcheet.settings.RedisSubscription`):

* ``classic`` (Node's adapter): PSUBSCRIBE ``P#<nsp>#*``, so every broadcast of the cluster
  reaches every node, which drops those for rooms it has no member in.
* ``dynamic`` (Node's sharded adapter has the same idea): SUBSCRIBE ``P#<nsp>#``, and
  ``P#<nsp>#<room>#`` only while a local socket is in ``room`` (subscribed when the room
  gets its first local member, unsubscribed when it loses its last). Socket id rooms get no
  channel: a broadcast to exactly one room that looks like a socket id (20 characters, as
  Node decides) is published on ``P#<nsp>#`` instead, which every node reads.
* ``dynamic-private``: as ``dynamic``, plus one channel per local socket id, which every
  single-room broadcast uses, as in ``classic``: Node servers and emitters publish there.

A publisher's channel choice is compatible with Node's subscribers in every mode, since they
PSUBSCRIBE everything. In both dynamic modes a room's broadcasts from other nodes reach this
node from the moment Redis applied the SUBSCRIBE, about one round trip after the room got
its first local member (in ``classic``, from the join itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from baatcheet._types import Room, SocketId
from baatcheet.adapters.adapter_memory import MemoryAdapter
from baatcheet.adapters.base import (
    AckCollector,
    Adapter,
    AdapterFactory,
    AdapterHost,
    BroadcastFlags,
    BroadcastOptions,
    Recipient,
    ServerSideReply,
    SocketSnapshot,
)
from baatcheet.adapters.broker_redis import RedisBroker
from baatcheet.adapters.cluster_messages import (
    AllRoomsRequest,
    AllRoomsResponse,
    BroadcastAck,
    BroadcastClientCount,
    BroadcastMessage,
    BroadcastRequest,
    Channels,
    DisconnectSocketsRequest,
    FetchSocketsRequest,
    FetchSocketsResponse,
    Request,
    RequestDone,
    Response,
    ServerSideEmitRequest,
    ServerSideEmitResponse,
    SocketsJoinRequest,
    SocketsLeaveRequest,
    SocketsRequest,
    SocketsResponse,
    decode_broadcast,
    decode_request,
    decode_response,
    encode_broadcast,
    encode_request,
    encode_response,
    new_uid,
)
from baatcheet.errors import AckTimeoutError, ClusterMessageError, ClusterUnavailableError
from baatcheet.proto.socketio import EVENT, Packet
from baatcheet.settings import RedisSubscription

__all__ = ["RedisAdapter", "redis_adapter_factory"]

log = logging.getLogger(__name__)

_SOCKET_ID_LENGTH = 20
"""Length of a socket id, Baatcheet's or Node's: a room this long is taken for one."""


def redis_adapter_factory(broker: RedisBroker) -> AdapterFactory:
    """The adapter factory of a server whose namespaces share ``broker``."""

    def build(
        namespace: str, recipients: Mapping[SocketId, Recipient], host: AdapterHost
    ) -> Adapter:
        return RedisAdapter(namespace, recipients, host, broker)

    return build


@dataclass(slots=True)
class _Pending:
    """A request waiting for ``expected`` answers of type ``kind``."""

    expected: int
    kind: type[Response]
    done: asyncio.Future[None]
    answers: list[Any] = field(default_factory=list)

    def add(self, response: Response) -> None:
        if not isinstance(response, self.kind) or self.done.done():
            return
        self.answers.append(response)
        if len(self.answers) >= self.expected:
            self.done.set_result(None)


@dataclass(slots=True)
class _AckedBroadcast:
    """An acked broadcast of ours: where other nodes' counts and acks go, until it expires."""

    on_client_count: Callable[[int], None]
    on_ack: AckCollector
    expiry: asyncio.TimerHandle | None = None


class RedisAdapter:
    """Rooms and fan-out for one namespace across every node sharing a Redis prefix."""

    def __init__(
        self,
        namespace: str,
        recipients: Mapping[SocketId, Recipient],
        host: AdapterHost,
        broker: RedisBroker,
    ) -> None:
        self.namespace = namespace
        self.uid = new_uid()
        """This adapter's id on the wire (one per namespace and node, as in Node)."""
        self._echo_head: bytes = b"\x93" + msgpack.packb(self.uid)
        """How our own broadcasts start: a 3-element array, then our uid (as we encode it)."""
        self.channels = Channels(broker.prefix, namespace)
        self._recipients = recipients
        self._host = host
        self._broker = broker
        self._local = MemoryAdapter(namespace, recipients, host)
        self._requests: dict[str, _Pending] = {}
        self._acked: dict[str, _AckedBroadcast] = {}
        self._dynamic = broker.subscription is not RedisSubscription.CLASSIC
        self._private = broker.subscription is RedisSubscription.DYNAMIC_PRIVATE
        self._followed: set[Room] = set()
        """Rooms whose channel is subscribed (dynamic modes)."""

    def __repr__(self) -> str:
        return f"<RedisAdapter {self.namespace} uid={self.uid}>"

    # -- lifecycle -----------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe the request/response channels and the broadcast pattern or channel.

        Starts the broker if nobody did (it then joins the cluster in the background).
        """
        channels = self.channels
        self._broker.watch(self._on_cluster_lost)
        self._broker.start()
        fixed = {
            channels.request: self._on_request,
            channels.response: self._on_response,
            channels.specific_response(self.uid): self._on_response,
        }
        if self._dynamic:
            await self._broker.subscribe(channels={**fixed, channels.broadcast: self._on_broadcast})
        else:
            await self._broker.subscribe(
                channels=fixed, patterns={channels.broadcast_pattern: self._on_broadcast}
            )

    async def close(self) -> None:
        """Unsubscribe; requests still waiting fail with ClusterUnavailableError."""
        self._broker.unwatch(self._on_cluster_lost)
        self._fail_pending(ClusterUnavailableError(f"the adapter of {self.namespace} closed"))
        for acked in self._acked.values():
            if acked.expiry is not None:
                acked.expiry.cancel()
        self._acked.clear()
        channels = self.channels
        for room in self._followed:
            self._broker.unsubscribe_nowait(channels.room(room))
        self._followed.clear()
        fixed = [channels.request, channels.response, channels.specific_response(self.uid)]
        if self._dynamic:
            await self._broker.unsubscribe(channels=[*fixed, channels.broadcast])
        else:
            await self._broker.unsubscribe(channels=fixed, patterns=[channels.broadcast_pattern])

    # -- membership (local) ----------------------------------------------------------------

    def add_all(self, sid: SocketId, rooms: Iterable[Room]) -> None:
        if not self._dynamic:
            self._local.add_all(sid, rooms)
            return
        rooms = tuple(rooms)
        self._local.add_all(sid, rooms)
        self._follow_members(rooms)

    def delete(self, sid: SocketId, room: Room) -> None:
        self._local.delete(sid, room)
        if self._dynamic:
            self._follow_members((room,))

    def delete_all(self, sid: SocketId) -> None:
        if not self._dynamic:
            self._local.delete_all(sid)
            return
        rooms = (*self._local.sids.get(sid, ()), Room(sid))
        self._local.delete_all(sid)
        self._follow_members(rooms, leaving=Room(sid))

    def _follow_members(self, rooms: Iterable[Room], leaving: Room | None = None) -> None:
        """Subscribe the channel of each of ``rooms`` that has a local member, unsubscribe
        the others (dynamic modes).

        Args:
            rooms: Rooms whose membership just changed.
            leaving: A socket that is disconnecting, still among the recipients.
        """
        members = self._local.rooms
        for room in rooms:
            wanted = room in members or (
                self._private and room != leaving and SocketId(room) in self._recipients
            )
            if wanted == (room in self._followed):
                continue
            if wanted:
                self._followed.add(room)
                self._broker.subscribe_nowait(self.channels.room(room), self._on_broadcast)
            else:
                self._followed.discard(room)
                self._broker.unsubscribe_nowait(self.channels.room(room))

    def socket_rooms(self, sid: SocketId) -> set[Room]:
        return self._local.socket_rooms(sid)

    # -- fan-out ---------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if opts.local:
            self._local.broadcast(packet, opts)
            return
        payload = encode_broadcast(BroadcastMessage(self.uid, packet.data, opts, self.namespace))
        self._local.broadcast(packet, opts)
        self._broker.publish(self._channel_for(opts.rooms), payload)

    def _channel_for(self, rooms: frozenset[Room]) -> str:
        """Where a broadcast to ``rooms`` is published: Node's choice, except that in
        ``dynamic`` mode a socket id goes to the namespace channel (it has no channel)."""
        if self._dynamic and not self._private and len(rooms) == 1:
            (room,) = rooms
            if len(room) == _SOCKET_ID_LENGTH:
                return self.channels.broadcast
        return self.channels.for_broadcast(rooms)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        on_client_count: Callable[[int], None],
        on_ack: AckCollector,
    ) -> None:
        if packet.id is None:
            raise ValueError("broadcast_with_ack needs a packet with an ack id")
        if not opts.local:
            request_id = new_uid()
            request = BroadcastRequest(self.uid, request_id, packet.data, opts, self.namespace)
            payload = encode_request(request)
            acked = _AckedBroadcast(on_client_count, on_ack)
            self._acked[request_id] = acked
            # As in Node: nothing tells this node when the last client answered, so the
            # routing entry simply lives as long as the broadcast's timeout.
            timeout_ms = opts.flags.timeout_ms
            lifetime = self._broker.requests_timeout if timeout_ms is None else timeout_ms / 1000
            acked.expiry = asyncio.get_running_loop().call_later(
                lifetime, self._acked.pop, request_id, None
            )
            self._broker.publish(self.channels.request, payload)
        self._local.broadcast_with_ack(packet, opts, on_client_count, on_ack)

    # -- cluster questions -----------------------------------------------------------------

    async def server_count(self) -> int:
        """Subscribers of the request channel: one per node serving this namespace.

        At least 1 (this node), even while its own subscription is being restored.
        """
        return max(1, await self._broker.numsub(self.channels.request))

    async def all_rooms(self) -> set[Room]:
        rooms = self._local.local_rooms()
        nodes = await self.server_count()
        if nodes <= 1:
            return rooms
        request = AllRoomsRequest(self.uid, new_uid())
        answers = await self._ask_all(request, nodes - 1, AllRoomsResponse, "all_rooms")
        for answer in answers:
            rooms.update(answer.rooms)
        return rooms

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketSnapshot]:
        snapshots = self._local.local_snapshots(opts)
        if opts.local:
            return snapshots
        nodes = await self.server_count()
        if nodes <= 1:
            return snapshots
        request = FetchSocketsRequest(self.uid, new_uid(), opts)
        answers = await self._ask_all(request, nodes - 1, FetchSocketsResponse, "fetch_sockets")
        for answer in answers:
            snapshots.extend(answer.sockets)
        return snapshots

    async def server_side_emit(self, args: list[Any], *, with_ack: bool = False) -> list[Any]:
        if not self._broker.available:
            raise self._unavailable()
        if not with_ack:
            self._publish_request(ServerSideEmitRequest(self.uid, args))
            return []
        others = await self.server_count() - 1
        if others <= 0:
            return []
        request = ServerSideEmitRequest(self.uid, args, new_uid())
        answers, complete = await self._gather(request, others, ServerSideEmitResponse)
        data = [answer.data for answer in answers]
        if not complete:
            event = str(args[0]) if args else ""
            raise AckTimeoutError(event, self._broker.requests_timeout, partial=data)
        return data

    async def _ask_all(
        self,
        request: AllRoomsRequest | FetchSocketsRequest,
        others: int,
        kind: type[Any],
        operation: str,
    ) -> list[Any]:
        answers, complete = await self._gather(request, others, kind)
        if not complete:
            raise ClusterUnavailableError(
                f"{operation} on {self.namespace}: {len(answers)} of {others} other nodes"
                f" answered within {self._broker.requests_timeout:g}s"
            )
        return answers

    async def _gather(
        self,
        request: AllRoomsRequest | FetchSocketsRequest | ServerSideEmitRequest,
        expected: int,
        kind: type[Response],
    ) -> tuple[list[Any], bool]:
        """Publish ``request`` and wait for ``expected`` answers; False if time ran out.

        Raises:
            ClusterUnavailableError: Redis is unreachable, or became so meanwhile.
        """
        request_id = request.request_id
        assert request_id is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending = _Pending(expected, kind, done)
        self._requests[request_id] = pending
        try:
            if not self._broker.publish(self.channels.request, encode_request(request)):
                raise self._unavailable()
            try:
                async with asyncio.timeout(self._broker.requests_timeout):
                    await done
            except TimeoutError:
                return pending.answers, False
            return pending.answers, True
        finally:
            del self._requests[request_id]

    # -- actions on the selected sockets of every node -------------------------------------

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[Room]) -> None:
        rooms = tuple(rooms)
        self._local.add_sockets(opts, rooms)
        if not opts.local:
            self._publish_request(SocketsJoinRequest(self.uid, opts, rooms))

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[Room]) -> None:
        rooms = tuple(rooms)
        self._local.del_sockets(opts, rooms)
        if not opts.local:
            self._publish_request(SocketsLeaveRequest(self.uid, opts, rooms))

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        # Published first: the local disconnects may run handlers that publish more.
        if not opts.local:
            self._publish_request(DisconnectSocketsRequest(self.uid, opts, close))
        self._local.disconnect_sockets(opts, close)

    # -- from other nodes ------------------------------------------------------------------

    def _on_broadcast(self, channel: str, payload: bytes) -> None:
        if payload.startswith(self._echo_head):
            return  # our own broadcast, echoed by Redis: not worth decoding
        room = self.channels.room_of(channel)
        if room is None:
            return
        if room and room not in self._local.rooms and SocketId(room) not in self._recipients:
            return  # no local socket is in that room: skip decoding, as Node does
        try:
            message = decode_broadcast(payload)
        except ClusterMessageError as exc:
            self._dropped(channel, payload, exc)
            return
        if message.uid == self.uid or message.namespace != self.namespace:
            return
        packet = Packet(EVENT, self.namespace, message.data)
        self._local.broadcast(packet, _remote_opts(message.opts))

    def _on_request(self, channel: str, payload: bytes) -> None:
        try:
            request = decode_request(payload)
        except ClusterMessageError as exc:
            self._dropped(channel, payload, exc)
            return
        if request.uid == self.uid:
            return  # our own request, echoed by Redis (already applied locally)
        try:
            self._answer(request)
        except Exception:
            log.exception("%r failed to handle %r", self, request)

    def _answer(self, request: Request) -> None:
        local = self._local
        match request:
            case SocketsRequest():
                selected = local.local_snapshots(BroadcastOptions(rooms=request.rooms))
                ids = tuple(snapshot.id for snapshot in selected)
                self._respond(SocketsResponse(request.request_id, ids))
            case AllRoomsRequest():
                self._respond(AllRoomsResponse(request.request_id, tuple(local.local_rooms())))
            case FetchSocketsRequest():
                snapshots = tuple(local.local_snapshots(request.opts))
                self._respond(FetchSocketsResponse(request.request_id, snapshots))
            case SocketsJoinRequest() if self._selects(request):
                local.add_sockets(request.opts, request.rooms)
                self._legacy_done(request.request_id)
            case SocketsLeaveRequest() if self._selects(request):
                local.del_sockets(request.opts, request.rooms)
                self._legacy_done(request.request_id)
            case DisconnectSocketsRequest() if self._selects(request):
                local.disconnect_sockets(request.opts, request.close)
                self._legacy_done(request.request_id)
            case ServerSideEmitRequest():
                reply = None if request.request_id is None else self._reply(request.request_id)
                self._host.on_server_side_emit(list(request.data), reply)
            case BroadcastRequest():
                self._answer_broadcast(request)

    def _selects(
        self, request: SocketsJoinRequest | SocketsLeaveRequest | DisconnectSocketsRequest
    ) -> bool:
        """False for a legacy single-socket request whose socket is not on this node."""
        if request.request_id is None:
            return True
        return any(SocketId(room) in self._recipients for room in request.opts.rooms)

    def _legacy_done(self, request_id: str | None) -> None:
        if request_id is not None:
            self._respond(RequestDone(request_id))

    def _reply(self, request_id: str) -> ServerSideReply:
        answered = False

        def reply(value: Any) -> None:
            nonlocal answered
            if not answered:
                answered = True
                self._respond(ServerSideEmitResponse(request_id, value))

        return reply

    def _answer_broadcast(self, request: BroadcastRequest) -> None:
        request_id = request.request_id
        packet = Packet(EVENT, self.namespace, request.data, self._host.next_ack_id())

        def on_client_count(count: int) -> None:
            self._respond(BroadcastClientCount(request_id, count))

        def on_ack(args: list[Any]) -> None:
            # One value per client, as the sender collects local answers.
            self._respond(BroadcastAck(request_id, args[0] if len(args) == 1 else args))

        self._local.broadcast_with_ack(packet, _remote_opts(request.opts), on_client_count, on_ack)

    def _on_response(self, channel: str, payload: bytes) -> None:
        try:
            response = decode_response(payload)
        except ClusterMessageError as exc:
            self._dropped(channel, payload, exc)
            return
        request_id = response.request_id
        match response:
            case BroadcastClientCount():
                acked = self._acked.get(request_id)
                if acked is not None:
                    acked.on_client_count(response.client_count)
            case BroadcastAck():
                acked = self._acked.get(request_id)
                if acked is not None:
                    acked.on_ack([response.data])
            case _:
                pending = self._requests.get(request_id)
                if pending is not None:
                    pending.add(response)

    # -- helpers ---------------------------------------------------------------------------

    def _publish_request(self, request: Request) -> None:
        self._broker.publish(self.channels.request, encode_request(request))

    def _respond(self, response: Response) -> None:
        try:
            payload = encode_response(response)
        except TypeError as exc:
            log.error("%r cannot answer request %s: %s", self, response.request_id, exc)
            return
        self._broker.publish(self.channels.response, payload)

    def _on_cluster_lost(self) -> None:
        self._fail_pending(self._unavailable())

    def _fail_pending(self, error: ClusterUnavailableError) -> None:
        for pending in self._requests.values():
            if not pending.done.done():
                pending.done.set_exception(error)

    def _unavailable(self) -> ClusterUnavailableError:
        return ClusterUnavailableError(
            f"Redis is unreachable: {self.namespace} cannot reach the other nodes"
        )

    def _dropped(self, channel: str, payload: bytes, error: ClusterMessageError) -> None:
        log.warning("dropped a message on %s: %s (%.80r)", channel, error, payload)


def _remote_opts(opts: BroadcastOptions) -> BroadcastOptions:
    """Another node's options for local delivery: its targets, volatile and compress."""
    flags = BroadcastFlags(volatile=opts.flags.volatile, compress=opts.flags.compress)
    return BroadcastOptions(opts.rooms, opts.except_rooms, flags)
