"""The classic redis-adapter messages: frames written by the Node packages decode, and ours
are byte for byte what those packages write.

Hex frames come from ``notepack.io`` 3.0.1 encoding the exact values the Node adapter 8.3
and emitter 5.1 publish (``/work/shared/reference/socketio-cluster-wire-format.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgpack
import orjson
import pytest

from baatcheet._types import Room, SocketId
from baatcheet.adapters.base import BroadcastFlags, BroadcastOptions, SocketSnapshot
from baatcheet.adapters.cluster_messages import (
    EMITTER_UID,
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
    RequestDone,
    RequestType,
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
from baatcheet.errors import ClusterMessageError, ProtocolError

IO_EMIT_FRAME = bytes.fromhex(
    "93a6364a7848486d83a47479706502a46461746194a568656c6c6f01a374776f81a5746872656503"
    "a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"
)
"""``io.emit("hello", 1, "two", {three: 3})`` on ``socket.io#/#`` (the annotated 69 bytes)."""

EMITTER_ROOM_FRAME = bytes.fromhex(
    "93a7656d697474657283a47479706502a46461746192a6656d526f6f6d02a36e7370a12f83a5726f6f"
    "6d7391a5726f6f6d31a5666c61677380a665786365707490"
)
"""``emitter.to("room1").emit("emRoom", 2)``: keys in the emitter's order (rooms, flags, except)."""

BINARY_FRAME = bytes.fromhex(
    "93a641624364456683a47479706502a46461746193a362696ec40301020381a164d7ffa1a5d6006593"
    "7d25a36e7370a52f6368617483a5726f6f6d7392a27231a27232a665786365707491a27233a5666c61"
    "677382a8766f6c6174696c65c3a8636f6d7072657373c2"
)
"""``of("/chat").to(["r1","r2"]).except("r3").volatile.compress(false).emit("bin",
Buffer.from([1,2,3]), {d: Date})`` with uid ``AbCdEf``."""

BROADCAST_ACK_REQUEST = bytes.fromhex(
    "85a3756964a6416243644566a9726571756573744964a6526571313233a47479706507a67061636b65"
    "7483a47479706502a46461746192a4706f6c6c01a36e7370a12fa46f70747383a5726f6f6d7390a665"
    "786365707491a178a5666c61677381a774696d656f7574cd03e8"
)
"""``io.except("x").timeout(1000).emit("poll", 1, cb)``: request type 7."""

CLIENT_ACK = bytes.fromhex("83a47479706509a9726571756573744964a6526571313233a67061636b6574a3796573")
"""A client answered ``"yes"``: response type 9."""

CLIENT_ACK_WITHOUT_ARGUMENT = bytes.fromhex("82a47479706509a9726571756573744964a6526571313233")
"""A client answered with no argument: notepack leaves ``packet: undefined`` out."""

WHEN = datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


# -- channels -------------------------------------------------------------------------------


def test_channels_are_named_as_the_node_adapter_names_them() -> None:
    chat = Channels("socket.io", "/chat")
    assert chat.broadcast == "socket.io#/chat#"
    assert chat.broadcast_pattern == "socket.io#/chat#*"
    assert chat.room("room1") == "socket.io#/chat#room1#"
    assert chat.request == "socket.io-request#/chat#"
    assert chat.response == "socket.io-response#/chat#"
    assert chat.specific_response("RDzpW0") == "socket.io-response#/chat#RDzpW0#"


def test_a_broadcast_uses_the_room_channel_only_for_exactly_one_room() -> None:
    main = Channels("socket.io", "/")
    assert main.for_broadcast([]) == "socket.io#/#"
    assert main.for_broadcast([Room("room1")]) == "socket.io#/#room1#"
    assert main.for_broadcast([Room("a"), Room("b")]) == "socket.io#/#"


def test_the_room_is_read_back_from_a_broadcast_channel() -> None:
    main = Channels("socket.io", "/")
    assert main.room_of("socket.io#/#") == ""
    assert main.room_of("socket.io#/#room1#") == "room1"
    assert main.room_of("socket.io#/#a#b#") == "a#b"
    assert main.room_of("socket.io#/chat#") is None


def test_glob_characters_in_a_namespace_are_escaped_in_the_pattern() -> None:
    assert Channels("p", "/a*[b]?").broadcast_pattern == r"p#/a\*\[b\]\?#*"


def test_uids_are_six_url_safe_characters() -> None:
    uids = {new_uid() for _ in range(100)}
    assert len(uids) == 100
    assert all(len(uid) == 6 and uid.replace("-", "").replace("_", "").isalnum() for uid in uids)


# -- broadcasts -----------------------------------------------------------------------------


def test_the_observed_io_emit_frame_decodes_and_encodes_back_to_the_same_69_bytes() -> None:
    assert len(IO_EMIT_FRAME) == 69
    message = decode_broadcast(IO_EMIT_FRAME)
    assert message == BroadcastMessage(
        "6JxHHm", ["hello", 1, "two", {"three": 3}], BroadcastOptions()
    )
    assert encode_broadcast(message) == IO_EMIT_FRAME


def test_an_emitter_broadcast_to_one_room_decodes_whatever_its_key_order() -> None:
    message = decode_broadcast(EMITTER_ROOM_FRAME)
    assert message.uid == EMITTER_UID
    assert message.data == ["emRoom", 2]
    assert message.namespace == "/"
    assert message.opts == BroadcastOptions(rooms=frozenset({Room("room1")}))


def test_binary_dates_rooms_and_flags_survive_both_ways_byte_for_byte() -> None:
    message = decode_broadcast(BINARY_FRAME)
    assert message == BroadcastMessage(
        "AbCdEf",
        ["bin", b"\x01\x02\x03", {"d": WHEN}],
        BroadcastOptions(
            frozenset({Room("r1"), Room("r2")}),
            frozenset({Room("r3")}),
            BroadcastFlags(volatile=True, compress=False),
        ),
        "/chat",
    )
    assert encode_broadcast(message) == BINARY_FRAME


def test_bytes_are_msgpack_bin_and_strings_msgpack_str() -> None:
    frame = encode_broadcast(
        BroadcastMessage("u", ["e", b"\x01\x02\x03", "abc"], BroadcastOptions())
    )
    assert b"\xc4\x03\x01\x02\x03" in frame
    assert b"\xa3abc" in frame


def test_a_packet_without_nsp_belongs_to_the_main_namespace() -> None:
    frame = msgpack.packb(["u", {"type": 2, "data": ["e"]}, {"rooms": [], "except": []}])
    assert decode_broadcast(frame).namespace == "/"


def test_numeric_rooms_from_javascript_become_their_string_form() -> None:
    frame = msgpack.packb(["u", {"type": 2, "data": ["e"]}, {"rooms": [7, 2.0], "except": []}])
    assert decode_broadcast(frame).opts.rooms == {"7", "2"}


def test_notepacks_legacy_extensions_decode_as_notepack_reads_them() -> None:
    legacy_undefined = msgpack.ExtType(0, b"\x00")
    legacy_date = msgpack.ExtType(0, (1_704_164_645_678).to_bytes(8, "big", signed=True))
    unknown = msgpack.ExtType(42, b"\x01\x02")
    frame = msgpack.packb(
        ["u", {"type": 2, "data": ["e", legacy_undefined, legacy_date, unknown]}, {}],
    )
    assert decode_broadcast(frame).data == ["e", None, WHEN, [42, b"\x01\x02"]]


def test_flags_carry_the_ack_timeout_and_never_the_local_flag() -> None:
    opts = BroadcastOptions(flags=BroadcastFlags(local=True, timeout_ms=1500))
    frame = encode_broadcast(BroadcastMessage("u", ["e"], opts))
    assert msgpack.unpackb(frame)[2]["flags"] == {"timeout": 1500}
    assert decode_broadcast(frame).opts.flags == BroadcastFlags(timeout_ms=1500)


@pytest.mark.parametrize(
    ("frame", "complaint"),
    [
        (b"", "msgpack"),
        (b"\xc1", "msgpack"),
        (IO_EMIT_FRAME[:-3], "msgpack"),
        (IO_EMIT_FRAME + b"\x00", "msgpack"),
        (b'{"type":3,"data":{},"uid":"0f8c9569ca9cac67","nsp":"/"}', "msgpack"),
        (msgpack.packb(["u", {"type": 2, "data": ["e"]}]), "array"),
        (msgpack.packb([1, {"type": 2, "data": ["e"]}, {}]), "uid"),
        (msgpack.packb(["u", {"type": 3, "data": [1]}, {}]), "not an event"),
        (msgpack.packb(["u", {"type": 2, "data": []}, {}]), "event name"),
        (msgpack.packb(["u", {"type": 2, "data": [1, 2]}, {}]), "event name"),
        (msgpack.packb(["u", {"type": 2, "data": ["e"], "nsp": 1}, {}]), "nsp"),
        (msgpack.packb(["u", {"type": 2, "data": ["e"]}, []]), "opts"),
        (msgpack.packb(["u", {"type": 2, "data": ["e"]}, {"rooms": "r"}]), "rooms"),
        (msgpack.packb(["u", {"type": 2, "data": ["e"]}, {"rooms": [None]}]), "room"),
        (msgpack.packb(["u", {"type": 2, "data": ["e"]}, {"flags": []}]), "flags"),
        (msgpack.packb(["u", {"type": 2, "data": ["e"]}, {"flags": {"timeout": "1"}}]), "timeout"),
        (b"\x93\xa1u\x82\xa4type\x02\xa4data\x91\xa2\xff\xfe\x80", "msgpack"),
    ],
)
def test_a_malformed_broadcast_raises_a_cluster_message_error(frame: bytes, complaint: str) -> None:
    with pytest.raises(ClusterMessageError, match=complaint):
        decode_broadcast(frame)


def test_a_cluster_message_error_is_a_protocol_error() -> None:
    assert issubclass(ClusterMessageError, ProtocolError)


# -- requests -------------------------------------------------------------------------------

EVERYONE_BUT_X = BroadcastOptions(except_rooms=frozenset({Room("x")}))


@pytest.mark.parametrize(
    ("request_", "wire"),
    [
        (
            AllRoomsRequest("AbCdEf", "Req123"),
            b'{"uid":"AbCdEf","requestId":"Req123","type":1}',
        ),
        (
            SocketsJoinRequest(
                "AbCdEf", BroadcastOptions(rooms=frozenset({Room("a")})), (Room("b"),)
            ),
            b'{"uid":"AbCdEf","type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}',
        ),
        (
            SocketsLeaveRequest("AbCdEf", EVERYONE_BUT_X, (Room("b"), Room("c"))),
            b'{"uid":"AbCdEf","type":3,"opts":{"rooms":[],"except":["x"]},"rooms":["b","c"]}',
        ),
        (
            DisconnectSocketsRequest("AbCdEf", BroadcastOptions(), True),
            b'{"uid":"AbCdEf","type":4,"opts":{"rooms":[],"except":[]},"close":true}',
        ),
        (
            FetchSocketsRequest("AbCdEf", "Req123", EVERYONE_BUT_X),
            b'{"uid":"AbCdEf","requestId":"Req123","type":5,"opts":{"rooms":[],"except":["x"]}}',
        ),
        (
            ServerSideEmitRequest("AbCdEf", ["hello", 1]),
            b'{"uid":"AbCdEf","type":6,"data":["hello",1]}',
        ),
        (
            ServerSideEmitRequest("AbCdEf", ["ping"], "Req123"),
            b'{"uid":"AbCdEf","requestId":"Req123","type":6,"data":["ping"]}',
        ),
        (
            SocketsRequest("AbCdEf", "Req123", frozenset({Room("a")})),
            b'{"uid":"AbCdEf","requestId":"Req123","type":0,"rooms":["a"]}',
        ),
    ],
)
def test_json_requests_are_written_as_the_node_adapter_writes_them(
    request_: Any, wire: bytes
) -> None:
    assert encode_request(request_) == wire
    assert decode_request(wire) == request_


def test_the_acked_broadcast_request_is_msgpack_byte_for_byte() -> None:
    request = BroadcastRequest(
        "AbCdEf",
        "Req123",
        ["poll", 1],
        BroadcastOptions(
            except_rooms=frozenset({Room("x")}), flags=BroadcastFlags(timeout_ms=1000)
        ),
    )
    assert decode_request(BROADCAST_ACK_REQUEST) == request
    assert encode_request(request) == BROADCAST_ACK_REQUEST


def test_emitter_requests_have_no_uid() -> None:
    join = decode_request(b'{"type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}')
    assert join == SocketsJoinRequest(
        None, BroadcastOptions(rooms=frozenset({Room("a")})), (Room("b"),)
    )
    leave = decode_request(b'{"type":3,"opts":{"rooms":[],"except":[]},"rooms":["b"]}')
    assert leave == SocketsLeaveRequest(None, BroadcastOptions(), (Room("b"),))
    kick = decode_request(b'{"type":4,"opts":{"rooms":["a"],"except":[]},"close":false}')
    assert kick == DisconnectSocketsRequest(
        None, BroadcastOptions(rooms=frozenset({Room("a")})), False
    )
    emitted = decode_request(b'{"uid":"emitter","type":6,"data":["ev",1]}')
    assert emitted == ServerSideEmitRequest(EMITTER_UID, ["ev", 1])


def test_legacy_single_socket_requests_target_that_socket_and_carry_their_request_id() -> None:
    join = decode_request(b'{"type":2,"sid":"s1","room":"r","requestId":"q"}')
    assert join == SocketsJoinRequest(
        None, BroadcastOptions(rooms=frozenset({Room("s1")})), (Room("r"),), "q"
    )
    kick = decode_request(b'{"type":4,"sid":"s1","close":true,"requestId":"q"}')
    assert kick == DisconnectSocketsRequest(
        None, BroadcastOptions(rooms=frozenset({Room("s1")})), True, "q"
    )


def test_server_side_emit_writes_bytes_as_json_stringify_writes_a_buffer() -> None:
    wire = encode_request(ServerSideEmitRequest("u", ["blob", b"\x01\x02"]))
    assert orjson.loads(wire)["data"] == ["blob", {"type": "Buffer", "data": [1, 2]}]


def test_lone_surrogates_travel_as_json_escapes_both_ways() -> None:
    wire = encode_request(ServerSideEmitRequest("u", ["odd", "\ud800"]))
    assert b"\\ud800" in wire
    decoded = decode_request(wire)
    assert isinstance(decoded, ServerSideEmitRequest)
    assert decoded.data == ["odd", "\ud800"]


@pytest.mark.parametrize(
    ("wire", "complaint"),
    [
        (b"{", "JSON"),
        (b"[1,2]", "msgpack"),
        (b'{"type":42}', "unknown request type 42"),
        (b'{"type":"2"}', "not an integer"),
        (b'{"type":true}', "not an integer"),
        (b'{"type":8,"requestId":"q","clientCount":1}', "response type"),
        (b'{"type":1}', "requestId"),
        (b'{"type":1,"requestId":7}', "requestId"),
        (b'{"type":1,"requestId":"q","uid":5}', "uid"),
        (b'{"type":2,"rooms":["b"]}', "neither opts nor a sid"),
        (b'{"type":6,"data":"hello"}', "event name"),
        (b'{"type":5,"requestId":"q","opts":null}', "opts"),
        (msgpack.packb({"type": 7, "requestId": "q", "packet": None}), "packet"),
        (msgpack.packb([7]), "JSON object or msgpack map"),
    ],
)
def test_a_malformed_request_raises_a_cluster_message_error(wire: bytes, complaint: str) -> None:
    with pytest.raises(ClusterMessageError, match=complaint):
        decode_request(wire)


# -- responses ------------------------------------------------------------------------------

HANDSHAKE = {
    "headers": {"host": "127.0.0.1:3000"},
    "time": "Tue, 25 Nov 2026 14:40:35 GMT",
    "address": "127.0.0.1",
    "xdomain": False,
    "secure": False,
    "issued": 1795617612175,
    "url": "/socket.io/?EIO=4&transport=websocket",
    "query": {"EIO": "4", "transport": "websocket"},
    "auth": {},
}


def test_the_observed_fetch_response_decodes_into_snapshots() -> None:
    wire = _json(
        {
            "requestId": "tDiwng",
            "sockets": [
                {"id": "dasX6W", "handshake": HANDSHAKE, "rooms": ["dasX6W", "room1"], "data": {}}
            ],
        }
    )
    rooms = frozenset({Room("dasX6W"), Room("room1")})
    snapshot = SocketSnapshot(SocketId("dasX6W"), HANDSHAKE, rooms, {})
    assert decode_response(wire) == FetchSocketsResponse("tDiwng", (snapshot,))
    assert encode_response(FetchSocketsResponse("tDiwng", (snapshot,))) == wire


@pytest.mark.parametrize(
    ("response", "wire"),
    [
        (AllRoomsResponse("q", (Room("a"), Room("s1"))), b'{"requestId":"q","rooms":["a","s1"]}'),
        (SocketsResponse("q", (SocketId("s1"),)), b'{"requestId":"q","sockets":["s1"]}'),
        (FetchSocketsResponse("q", ()), b'{"requestId":"q","sockets":[]}'),
        (ServerSideEmitResponse("q", "pong"), b'{"type":6,"requestId":"q","data":"pong"}'),
        (BroadcastClientCount("q", 2), b'{"type":8,"requestId":"q","clientCount":2}'),
        (RequestDone("q"), b'{"requestId":"q"}'),
    ],
)
def test_json_responses_are_written_as_the_node_adapter_writes_them(
    response: Any, wire: bytes
) -> None:
    assert encode_response(response) == wire
    assert decode_response(wire) == response


def test_a_clients_ack_is_msgpack_byte_for_byte() -> None:
    assert decode_response(CLIENT_ACK) == BroadcastAck("Req123", "yes")
    assert encode_response(BroadcastAck("Req123", "yes")) == CLIENT_ACK
    assert decode_response(CLIENT_ACK_WITHOUT_ARGUMENT) == BroadcastAck("Req123", None)


def test_a_response_type_is_an_int_enum_of_the_node_values() -> None:
    assert [kind.value for kind in RequestType] == list(range(10))
    assert RequestType.BROADCAST_ACK.name == "BROADCAST_ACK"


@pytest.mark.parametrize(
    ("wire", "complaint"),
    [
        (b'{"rooms":[]}', "requestId"),
        (b'{"type":8,"requestId":"q","clientCount":-1}', "clientCount"),
        (b'{"type":8,"requestId":"q","clientCount":"2"}', "clientCount"),
        (b'{"type":3,"requestId":"q"}', "unknown response type"),
        (b'{"requestId":"q","sockets":{}}', "not a list"),
        (b'{"requestId":"q","sockets":[1]}', "not an object"),
        (b'{"requestId":"q","sockets":[{"handshake":{}}]}', "no id"),
        (b'{"requestId":"q","sockets":[{"id":"s","handshake":1}]}', "handshake"),
        (b'{"requestId":"q","sockets":[{"id":"s","handshake":{},"data":[]}]}', "data"),
    ],
)
def test_a_malformed_response_raises_a_cluster_message_error(wire: bytes, complaint: str) -> None:
    with pytest.raises(ClusterMessageError, match=complaint):
        decode_response(wire)


def test_a_value_neither_json_nor_msgpack_can_carry_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        encode_request(ServerSideEmitRequest("u", ["e", {1, 2}]))
    with pytest.raises(TypeError):
        encode_broadcast(BroadcastMessage("u", ["e", 2**70], BroadcastOptions()))
