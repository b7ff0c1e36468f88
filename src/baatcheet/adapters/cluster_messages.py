"""The classic ``@socket.io/redis-adapter`` 8.x cluster messages, as typed values (sans-I/O).

Every node of a cluster (Node servers with the Redis adapter, Python nodes, and the
``@socket.io/redis-emitter``) exchanges three kinds of payloads on Redis pub/sub
(``/work/shared/reference/socketio-cluster-wire-format.md`` §1-2):

* **Broadcasts** on ``P#<nsp>#`` or ``P#<nsp>#<room>#``: always msgpack (notepack.io), a
  3-element array ``[uid, packet, opts]``.
* **Requests** on ``P-request#<nsp>#``: JSON, except the acked broadcast (type 7), which is
  a msgpack map. The emitter's requests carry no ``uid``.
* **Responses** on ``P-response#<nsp>#`` (and ``…#<uid>#``): JSON, except the per-client
  broadcast ack (type 9), which is a msgpack map. Some have a ``type``, others are told
  apart by their fields only.

Requests and responses are JSON when the first byte is ``{`` and msgpack otherwise.

This module only converts between bytes and the dataclasses below; it never touches the
network. Decoders raise :class:`~baatcheet.errors.ClusterMessageError` for anything that is
not a well-formed message; the caller logs and drops it.

Notepack compatibility: strings are msgpack ``str`` and bytes ``bin``; integers take the
smallest format and other numbers are float64; datetimes travel as the timestamp extension
(−1). The decoder also reads notepack's legacy extension type 0 (``undefined``, an old date
form and an old ``ArrayBuffer`` form) and returns unknown extensions as ``[type, bytes]``,
as notepack does. In JSON, bytes are written the way ``JSON.stringify`` writes a Buffer
(``{"type": "Buffer", "data": [..]}``), which is what a Node peer would publish.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, Final, TypeAlias

import msgpack
import orjson

from baatcheet._types import Room, SocketId
from baatcheet.adapters.base import BroadcastFlags, BroadcastOptions, SocketSnapshot
from baatcheet.errors import ClusterMessageError

__all__ = [
    "EMITTER_UID",
    "AllRoomsRequest",
    "AllRoomsResponse",
    "BroadcastAck",
    "BroadcastClientCount",
    "BroadcastMessage",
    "BroadcastRequest",
    "Channels",
    "DisconnectSocketsRequest",
    "FetchSocketsRequest",
    "FetchSocketsResponse",
    "Request",
    "RequestDone",
    "RequestType",
    "Response",
    "ServerSideEmitRequest",
    "ServerSideEmitResponse",
    "SocketsJoinRequest",
    "SocketsLeaveRequest",
    "SocketsRequest",
    "SocketsResponse",
    "decode_broadcast",
    "decode_request",
    "decode_response",
    "encode_broadcast",
    "encode_request",
    "encode_response",
    "new_uid",
]

EMITTER_UID: Final = "emitter"
"""The ``uid`` of ``@socket.io/redis-emitter`` messages; no node ever has it."""

_EVENT: Final = 2
_BINARY_EVENT: Final = 5


class RequestType(IntEnum):
    """The ``type`` of a request or response (``RequestType`` in the Node adapter)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


def new_uid() -> str:
    """Six random URL-safe characters, like Node's ``uid2(6)`` (node uids, request ids)."""
    return secrets.token_urlsafe(6)[:6]


# -- channels -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Channels:
    """The channel names of one namespace under one prefix (Node's ``key`` option)."""

    prefix: str
    namespace: str

    @property
    def broadcast(self) -> str:
        """``P#<nsp>#``: broadcasts to the whole namespace or to 0 or ≥ 2 rooms."""
        return f"{self.prefix}#{self.namespace}#"

    @property
    def broadcast_pattern(self) -> str:
        """The ``PSUBSCRIBE`` pattern matching every broadcast channel of the namespace.

        Glob characters in the prefix or name are escaped, so ``/a*`` never matches ``/ab``.
        """
        return _glob_escape(self.broadcast) + "*"

    @property
    def request(self) -> str:
        """``P-request#<nsp>#``: every request; its subscriber count is the server count."""
        return f"{self.prefix}-request#{self.namespace}#"

    @property
    def response(self) -> str:
        """``P-response#<nsp>#``: responses every node receives (filtered by request id)."""
        return f"{self.prefix}-response#{self.namespace}#"

    def specific_response(self, uid: str) -> str:
        """``P-response#<nsp>#<uid>#``: responses for one node only (Node's opt-in)."""
        return f"{self.response}{uid}#"

    def room(self, room: str) -> str:
        """``P#<nsp>#<room>#``: broadcasts to exactly that one room (or socket id)."""
        return f"{self.broadcast}{room}#"

    def for_broadcast(self, rooms: Iterable[Room]) -> str:
        """Where a broadcast to ``rooms`` is published: the room channel for exactly one room."""
        rooms = list(rooms)
        if len(rooms) == 1:
            return self.room(rooms[0])
        return self.broadcast

    def room_of(self, channel: str) -> str | None:
        """The room named by broadcast ``channel`` (``""`` for ``P#<nsp>#``); None if foreign."""
        head = self.broadcast
        if not channel.startswith(head) or not channel.endswith("#"):
            return None
        return channel[len(head) : -1]


def _glob_escape(text: str) -> str:
    for char in "\\*?[]":
        text = text.replace(char, "\\" + char)
    return text


# -- messages -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BroadcastMessage:
    """``[uid, {type: 2, data, nsp}, {rooms, except, flags}]`` on a broadcast channel.

    ``opts.flags`` carries ``volatile`` and ``compress`` (and ``timeout`` for acked
    broadcasts); ``local`` broadcasts are never published.
    """

    uid: str
    data: list[Any]
    """``[event, *args]``; bytes may appear at any depth."""
    opts: BroadcastOptions
    namespace: str = "/"


@dataclass(frozen=True, slots=True)
class SocketsRequest:
    """Type 0: the ids of the sockets in ``rooms`` (every socket if empty)."""

    uid: str | None
    request_id: str
    rooms: frozenset[Room]


@dataclass(frozen=True, slots=True)
class AllRoomsRequest:
    """Type 1: every room of every node."""

    uid: str | None
    request_id: str


@dataclass(frozen=True, slots=True)
class SocketsJoinRequest:
    """Type 2: the sockets selected by ``opts`` join ``rooms``; never answered.

    The legacy form ``{sid, room, requestId}`` decodes to ``opts.rooms == {sid}``,
    ``rooms == (room,)`` and a ``request_id``, which the node holding the socket answers
    with :class:`RequestDone`.
    """

    uid: str | None
    opts: BroadcastOptions
    rooms: tuple[Room, ...]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class SocketsLeaveRequest:
    """Type 3: the sockets selected by ``opts`` leave ``rooms`` (legacy form as type 2)."""

    uid: str | None
    opts: BroadcastOptions
    rooms: tuple[Room, ...]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class DisconnectSocketsRequest:
    """Type 4: disconnect the selected sockets (``close``: their whole connection)."""

    uid: str | None
    opts: BroadcastOptions
    close: bool
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class FetchSocketsRequest:
    """Type 5: snapshots of the sockets selected by ``opts``."""

    uid: str | None
    request_id: str
    opts: BroadcastOptions


@dataclass(frozen=True, slots=True)
class ServerSideEmitRequest:
    """Type 6: ``data`` (``[event, *args]``) for the namespace's server-side listeners.

    With ``request_id``, each node answers once with :class:`ServerSideEmitResponse`.
    """

    uid: str | None
    data: list[Any]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class BroadcastRequest:
    """Type 7 (msgpack): an acked broadcast; each node answers with its client count
    (:class:`BroadcastClientCount`), then with each client's ack (:class:`BroadcastAck`)."""

    uid: str | None
    request_id: str
    data: list[Any]
    opts: BroadcastOptions
    namespace: str = "/"


Request: TypeAlias = (
    SocketsRequest
    | AllRoomsRequest
    | SocketsJoinRequest
    | SocketsLeaveRequest
    | DisconnectSocketsRequest
    | FetchSocketsRequest
    | ServerSideEmitRequest
    | BroadcastRequest
)


@dataclass(frozen=True, slots=True)
class SocketsResponse:
    """Answer to type 0: ``{requestId, sockets: [sid…]}``."""

    request_id: str
    sockets: tuple[SocketId, ...]


@dataclass(frozen=True, slots=True)
class AllRoomsResponse:
    """Answer to type 1: ``{requestId, rooms: […]}``."""

    request_id: str
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class FetchSocketsResponse:
    """Answer to type 5: ``{requestId, sockets: [{id, handshake, rooms, data}…]}``.

    An empty ``sockets`` list decodes to this type (it is the same answer for type 0).
    """

    request_id: str
    sockets: tuple[SocketSnapshot, ...]


@dataclass(frozen=True, slots=True)
class ServerSideEmitResponse:
    """Answer to type 6 with a request id: ``{type: 6, requestId, data}``."""

    request_id: str
    data: Any


@dataclass(frozen=True, slots=True)
class BroadcastClientCount:
    """Type 8 (JSON): how many clients of one node were sent an acked broadcast."""

    request_id: str
    client_count: int


@dataclass(frozen=True, slots=True)
class BroadcastAck:
    """Type 9 (msgpack): one client's answer to an acked broadcast (its first argument)."""

    request_id: str
    data: Any


@dataclass(frozen=True, slots=True)
class RequestDone:
    """``{requestId}``: answer to a legacy single-socket join, leave or disconnect."""

    request_id: str


Response: TypeAlias = (
    SocketsResponse
    | AllRoomsResponse
    | FetchSocketsResponse
    | ServerSideEmitResponse
    | BroadcastClientCount
    | BroadcastAck
    | RequestDone
)


# -- encoding -------------------------------------------------------------------------------


def encode_broadcast(message: BroadcastMessage) -> bytes:
    """The msgpack bytes of a broadcast, exactly as the Node adapter writes them.

    Raises:
        TypeError: ``message.data`` holds a value msgpack cannot carry.
    """
    packet = {"type": _EVENT, "data": message.data, "nsp": message.namespace}
    return _pack([message.uid, packet, _wire_opts(message.opts, with_flags=True)])


def encode_request(request: Request) -> bytes:
    """A request as the Node adapter writes it: JSON, or msgpack for an acked broadcast.

    Raises:
        TypeError: The request carries a value JSON or msgpack cannot represent.
    """
    body: dict[str, Any] = {} if request.uid is None else {"uid": request.uid}
    match request:
        case BroadcastRequest():
            body |= {
                "requestId": request.request_id,
                "type": RequestType.BROADCAST.value,
                "packet": {"type": _EVENT, "data": request.data, "nsp": request.namespace},
                "opts": _wire_opts(request.opts, with_flags=True),
            }
            return _pack(body)
        case SocketsRequest():
            body |= {
                "requestId": request.request_id,
                "type": RequestType.SOCKETS.value,
                "rooms": sorted(request.rooms),
            }
        case AllRoomsRequest():
            body |= {"requestId": request.request_id, "type": RequestType.ALL_ROOMS.value}
        case SocketsJoinRequest() | SocketsLeaveRequest():
            kind = (
                RequestType.REMOTE_JOIN
                if isinstance(request, SocketsJoinRequest)
                else RequestType.REMOTE_LEAVE
            )
            body |= {
                "type": kind.value,
                "opts": _wire_opts(request.opts),
                "rooms": list(request.rooms),
            }
            if request.request_id is not None:
                body["requestId"] = request.request_id
        case DisconnectSocketsRequest():
            body |= {
                "type": RequestType.REMOTE_DISCONNECT.value,
                "opts": _wire_opts(request.opts),
                "close": request.close,
            }
            if request.request_id is not None:
                body["requestId"] = request.request_id
        case FetchSocketsRequest():
            body |= {
                "requestId": request.request_id,
                "type": RequestType.REMOTE_FETCH.value,
                "opts": _wire_opts(request.opts),
            }
        case ServerSideEmitRequest():
            if request.request_id is not None:
                body["requestId"] = request.request_id
            body |= {"type": RequestType.SERVER_SIDE_EMIT.value, "data": request.data}
    return _json(body)


def encode_response(response: Response) -> bytes:
    """A response as the Node adapter writes it: JSON, or msgpack for a client's ack.

    Raises:
        TypeError: The response carries a value JSON or msgpack cannot represent.
    """
    match response:
        case BroadcastAck():
            return _pack(
                {
                    "type": RequestType.BROADCAST_ACK.value,
                    "requestId": response.request_id,
                    "packet": response.data,
                }
            )
        case SocketsResponse():
            body: dict[str, Any] = {
                "requestId": response.request_id,
                "sockets": list(response.sockets),
            }
        case AllRoomsResponse():
            body = {"requestId": response.request_id, "rooms": list(response.rooms)}
        case FetchSocketsResponse():
            body = {
                "requestId": response.request_id,
                "sockets": [_wire_snapshot(snapshot) for snapshot in response.sockets],
            }
        case ServerSideEmitResponse():
            body = {
                "type": RequestType.SERVER_SIDE_EMIT.value,
                "requestId": response.request_id,
                "data": response.data,
            }
        case BroadcastClientCount():
            body = {
                "type": RequestType.BROADCAST_CLIENT_COUNT.value,
                "requestId": response.request_id,
                "clientCount": response.client_count,
            }
        case RequestDone():
            body = {"requestId": response.request_id}
    return _json(body)


def _wire_opts(opts: BroadcastOptions, *, with_flags: bool = False) -> dict[str, Any]:
    wire: dict[str, Any] = {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms)}
    if with_flags:
        flags: dict[str, Any] = {}
        if opts.flags.volatile:
            flags["volatile"] = True
        if not opts.flags.compress:
            flags["compress"] = False
        if opts.flags.timeout_ms is not None:
            flags["timeout"] = opts.flags.timeout_ms
        wire["flags"] = flags
    return wire


def _wire_snapshot(snapshot: SocketSnapshot) -> dict[str, Any]:
    own = Room(snapshot.id)
    rooms = [own, *sorted(room for room in snapshot.rooms if room != own)]
    return {
        "id": snapshot.id,
        "handshake": snapshot.handshake,
        "rooms": rooms,
        "data": snapshot.data,
    }


def _pack(value: Any) -> bytes:
    try:
        packed: bytes = msgpack.packb(value, use_bin_type=True, datetime=True)
    except (ValueError, OverflowError) as exc:
        raise TypeError(f"cannot encode a cluster message: {exc}") from exc
    return packed


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": list(bytes(value))}
    raise TypeError(f"{type(value).__name__} cannot be sent to other nodes as JSON")


def _json(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_json_default)
    except TypeError as exc:
        if "surrogates" not in str(exc):
            raise
    # A lone UTF-16 surrogate (a JavaScript peer may send one): escape it as JSON.stringify does.
    return json.dumps(value, default=_json_default, separators=(",", ":")).encode()


# -- decoding -------------------------------------------------------------------------------


def decode_broadcast(payload: bytes) -> BroadcastMessage:
    """Read a broadcast-channel message (always msgpack, as the Node adapter reads it).

    A packet without ``nsp`` belongs to ``/``.

    Raises:
        ClusterMessageError: Not a ``[uid, packet, opts]`` msgpack array of the known shape.
    """
    value = _unpack(payload)
    if not isinstance(value, list) or len(value) != 3:
        raise ClusterMessageError("a broadcast must be a msgpack array [uid, packet, opts]")
    uid, packet, opts = value
    if not isinstance(uid, str):
        raise ClusterMessageError("broadcast uid is not a string")
    data, namespace = _packet(packet)
    return BroadcastMessage(uid, data, _opts(opts, with_flags=True), namespace)


def decode_request(payload: bytes) -> Request:
    """Read a request-channel message, JSON or msgpack by its first byte.

    Raises:
        ClusterMessageError: Not a request this adapter version knows.
    """
    body = _body(payload)
    uid = body.get("uid")
    if uid is not None and not isinstance(uid, str):
        raise ClusterMessageError("request uid is not a string")
    kind = _request_type(body)
    request_id = body.get("requestId")
    if request_id is not None and not isinstance(request_id, str):
        raise ClusterMessageError("requestId is not a string")
    match kind:
        case RequestType.SOCKETS:
            return SocketsRequest(uid, _required_id(body), frozenset(_rooms(body.get("rooms"))))
        case RequestType.ALL_ROOMS:
            return AllRoomsRequest(uid, _required_id(body))
        case RequestType.REMOTE_JOIN | RequestType.REMOTE_LEAVE:
            if "opts" in body:
                opts = _opts(body["opts"])
                rooms = tuple(_rooms(body.get("rooms")))
            else:
                opts, rooms = _legacy_target(body), (_room(body.get("room")),)
            if kind is RequestType.REMOTE_JOIN:
                return SocketsJoinRequest(uid, opts, rooms, request_id)
            return SocketsLeaveRequest(uid, opts, rooms, request_id)
        case RequestType.REMOTE_DISCONNECT:
            opts = _opts(body["opts"]) if "opts" in body else _legacy_target(body)
            return DisconnectSocketsRequest(uid, opts, body.get("close") is True, request_id)
        case RequestType.REMOTE_FETCH:
            return FetchSocketsRequest(uid, _required_id(body), _opts(body.get("opts")))
        case RequestType.SERVER_SIDE_EMIT:
            return ServerSideEmitRequest(uid, _event_data(body.get("data")), request_id)
        case RequestType.BROADCAST:
            data, namespace = _packet(body.get("packet"))
            opts = _opts(body.get("opts"), with_flags=True)
            return BroadcastRequest(uid, _required_id(body), data, opts, namespace)
    raise ClusterMessageError(f"request type {kind.name} is a response type")


def decode_response(payload: bytes) -> Response:
    """Read a response-channel message, JSON or msgpack by its first byte.

    Raises:
        ClusterMessageError: Not a response this adapter version knows.
    """
    body = _body(payload)
    request_id = _required_id(body)
    kind = body.get("type")
    if kind == RequestType.BROADCAST_ACK:
        return BroadcastAck(request_id, body.get("packet"))
    if kind == RequestType.BROADCAST_CLIENT_COUNT:
        count = body.get("clientCount")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ClusterMessageError("clientCount is not a non-negative integer")
        return BroadcastClientCount(request_id, count)
    if kind == RequestType.SERVER_SIDE_EMIT:
        return ServerSideEmitResponse(request_id, body.get("data"))
    if kind is not None:
        raise ClusterMessageError(f"unknown response type {kind!r}")
    if "rooms" in body:
        return AllRoomsResponse(request_id, tuple(_rooms(body["rooms"])))
    if "sockets" in body:
        sockets = body["sockets"]
        if not isinstance(sockets, list):
            raise ClusterMessageError("sockets is not a list")
        if sockets and all(isinstance(sid, str) for sid in sockets):
            return SocketsResponse(request_id, tuple(SocketId(sid) for sid in sockets))
        return FetchSocketsResponse(request_id, tuple(_snapshot(item) for item in sockets))
    return RequestDone(request_id)


def _ext_hook(code: int, data: bytes) -> Any:
    """notepack's extensions other than the −1 timestamps (which msgpack reads itself)."""
    if code == 0:
        if len(data) == 1:
            return None  # legacy ``undefined``
        if len(data) == 8:  # legacy date: milliseconds as a signed 64-bit integer
            milliseconds = int.from_bytes(data, "big", signed=True)
            return datetime.fromtimestamp(milliseconds / 1000, UTC)
        return data  # legacy ArrayBuffer
    return [code, data]


def _unpack(payload: bytes) -> Any:
    try:
        return msgpack.unpackb(payload, raw=False, timestamp=3, ext_hook=_ext_hook)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        reason = str(exc) or type(exc).__name__
        raise ClusterMessageError(f"not a valid msgpack message: {reason}") from None


def _body(payload: bytes) -> dict[str, Any]:
    if payload[:1] == b"{":
        try:
            value = orjson.loads(payload)
        except orjson.JSONDecodeError:
            value = _lenient_json(payload)
    else:
        value = _unpack(payload)
    if not isinstance(value, dict):
        raise ClusterMessageError("a request or response must be a JSON object or msgpack map")
    return value


def _lenient_json(payload: bytes) -> Any:
    """JSON with lone UTF-16 surrogate escapes, which JSON.parse accepts and orjson refuses."""
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise ClusterMessageError(f"not valid JSON: {exc}") from None


def _request_type(body: dict[str, Any]) -> RequestType:
    kind = body.get("type")
    if not isinstance(kind, int) or isinstance(kind, bool):
        raise ClusterMessageError(f"request type {kind!r} is not an integer")
    try:
        return RequestType(kind)
    except ValueError:
        raise ClusterMessageError(f"unknown request type {kind}") from None


def _required_id(body: dict[str, Any]) -> str:
    request_id = body.get("requestId")
    if not isinstance(request_id, str) or not request_id:
        raise ClusterMessageError("requestId is missing or not a string")
    return request_id


def _packet(packet: Any) -> tuple[list[Any], str]:
    if not isinstance(packet, dict):
        raise ClusterMessageError("packet is not a map")
    if packet.get("type") not in (_EVENT, _BINARY_EVENT):
        raise ClusterMessageError(f"packet type {packet.get('type')!r} is not an event")
    namespace = packet.get("nsp", "/")
    if not isinstance(namespace, str):
        raise ClusterMessageError("packet nsp is not a string")
    return _event_data(packet.get("data")), namespace


def _event_data(data: Any) -> list[Any]:
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise ClusterMessageError("event data must be a list starting with the event name")
    return data


def _room(value: Any) -> Room:
    """A room name; JavaScript numbers name rooms too, written as ``String(n)`` does."""
    if isinstance(value, str):
        return Room(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Room(str(value))
    if isinstance(value, float) and value.is_integer():
        return Room(str(int(value)))
    if isinstance(value, float):
        return Room(repr(value))
    raise ClusterMessageError(f"room {value!r} is not a string")


def _rooms(value: Any) -> list[Room]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ClusterMessageError("rooms is not a list")
    return [_room(item) for item in value]


def _opts(value: Any, *, with_flags: bool = False) -> BroadcastOptions:
    if not isinstance(value, dict):
        raise ClusterMessageError("opts is not a map")
    flags = BroadcastFlags()
    if with_flags:
        raw = value.get("flags", {})
        if not isinstance(raw, dict):
            raise ClusterMessageError("flags is not a map")
        timeout = raw.get("timeout")
        if timeout is not None and (
            not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout < 0
        ):
            raise ClusterMessageError("flags.timeout is not a number of milliseconds")
        flags = BroadcastFlags(
            volatile=raw.get("volatile") is True,
            compress=raw.get("compress") is not False,
            timeout_ms=None if timeout is None else int(timeout),
        )
    return BroadcastOptions(
        frozenset(_rooms(value.get("rooms"))), frozenset(_rooms(value.get("except"))), flags
    )


def _legacy_target(body: dict[str, Any]) -> BroadcastOptions:
    sid = body.get("sid")
    if not isinstance(sid, str):
        raise ClusterMessageError("request has neither opts nor a sid")
    return BroadcastOptions(rooms=frozenset((Room(sid),)))


def _snapshot(item: Any) -> SocketSnapshot:
    if not isinstance(item, dict):
        raise ClusterMessageError("a fetched socket is not an object")
    sid, handshake, data = item.get("id"), item.get("handshake"), item.get("data", {})
    if not isinstance(sid, str):
        raise ClusterMessageError("a fetched socket has no id")
    if not isinstance(handshake, dict):
        raise ClusterMessageError(f"socket {sid} has no handshake object")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ClusterMessageError(f"socket {sid} has data that is not an object")
    return SocketSnapshot(SocketId(sid), handshake, frozenset(_rooms(item.get("rooms"))), data)
