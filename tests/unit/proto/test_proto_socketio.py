"""Socket.IO v5 packet encoding and decoding, checked against the protocol README's examples."""

from __future__ import annotations

from typing import Any

import pytest

from baatcheet.errors import ProtocolError
from baatcheet.proto import Decoder, Packet, PacketType, encode, encode_event_text

P = PacketType
PLACEHOLDER_0 = '{"_placeholder":true,"num":0}'
PLACEHOLDER_1 = '{"_placeholder":true,"num":1}'

SPEC_TEXT_PACKETS = [
    ("0", Packet(P.CONNECT)),
    (
        '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}',
        Packet(P.CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
    ),
    ('4{"message":"Not authorized"}', Packet(P.CONNECT_ERROR, data={"message": "Not authorized"})),
    ('2["foo"]', Packet(P.EVENT, data=["foo"])),
    ('2/admin,["bar"]', Packet(P.EVENT, "/admin", ["bar"])),
    ('212["foo"]', Packet(P.EVENT, data=["foo"], id=12)),
    ('3/admin,13["bar"]', Packet(P.ACK, "/admin", ["bar"], 13)),
    ("1", Packet(P.DISCONNECT)),
    ("1/admin,", Packet(P.DISCONNECT, "/admin")),
    ('0{"sid":"wZX3oN0bSVIhsaknAAAI"}', Packet(P.CONNECT, data={"sid": "wZX3oN0bSVIhsaknAAAI"})),
    ('2["hey","Jude"]', Packet(P.EVENT, data=["hey", "Jude"])),
    ("0/admin,", Packet(P.CONNECT, "/admin")),
    (
        '0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}',
        Packet(P.CONNECT, "/admin", {"sid": "-G5j-67EZFp-q59rADQM"}),
    ),
    ('2/admin,1["tellme"]', Packet(P.EVENT, "/admin", ["tellme"], 1)),
]

SPEC_BINARY_PACKETS = [
    (
        ["51-" + f'["baz",{PLACEHOLDER_0}]', b"\x01\x02\x03\x04"],
        Packet(P.EVENT, data=["baz", b"\x01\x02\x03\x04"]),
    ),
    (
        [f'52-/admin,["baz",{PLACEHOLDER_0},{PLACEHOLDER_1}]', b"\x01\x02", b"\x03\x04"],
        Packet(P.EVENT, "/admin", ["baz", b"\x01\x02", b"\x03\x04"]),
    ),
    (
        [f'61-15["bar",{PLACEHOLDER_0}]', b"\x01\x02\x03\x04"],
        Packet(P.ACK, data=["bar", b"\x01\x02\x03\x04"], id=15),
    ),
    (
        [f"61-/admin,1[{PLACEHOLDER_0}]", b"\xff"],
        Packet(P.ACK, "/admin", [b"\xff"], 1),
    ),
]


def _feed_all(decoder: Decoder, parts: list[str | bytes]) -> Packet:
    for part in parts[:-1]:
        assert decoder.feed(part) is None
        assert decoder.awaiting_attachments
    packet = decoder.feed(parts[-1])
    assert packet is not None
    assert not decoder.awaiting_attachments
    return packet


@pytest.mark.parametrize(
    ("text", "packet"), SPEC_TEXT_PACKETS, ids=[t for t, _ in SPEC_TEXT_PACKETS]
)
def test_text_packets_encode_and_decode_as_in_the_spec(text: str, packet: Packet) -> None:
    assert encode(packet) == [text]
    assert Decoder().feed(text) == packet


@pytest.mark.parametrize(
    ("parts", "packet"), SPEC_BINARY_PACKETS, ids=[str(p[0]) for p, _ in SPEC_BINARY_PACKETS]
)
def test_binary_packets_encode_and_decode_as_in_the_spec(
    parts: list[str | bytes], packet: Packet
) -> None:
    assert encode(packet) == parts
    assert _feed_all(Decoder(), parts) == packet


def test_binary_anywhere_in_nested_data_becomes_numbered_attachments_in_order() -> None:
    data = [
        "upload",
        {"files": [{"name": "a", "body": b"A"}, {"body": bytearray(b"B")}]},
        memoryview(b"C"),
    ]
    parts = encode(Packet(P.EVENT, "/files", data, 7))
    assert parts == [
        '53-/files,7["upload",{"files":[{"name":"a","body":'
        + PLACEHOLDER_0
        + '},{"body":'
        + PLACEHOLDER_1
        + '}]},{"_placeholder":true,"num":2}]',
        b"A",
        b"B",
        b"C",
    ]
    assert all(type(part) is bytes for part in parts[1:])
    decoded = _feed_all(Decoder(), parts)
    assert decoded.data == [
        "upload",
        {"files": [{"name": "a", "body": b"A"}, {"body": b"B"}]},
        b"C",
    ]


def test_binary_types_without_binary_data_are_sent_as_plain_packets() -> None:
    assert encode(Packet(P.BINARY_EVENT, data=["x", 1])) == ['2["x",1]']
    assert encode(Packet(P.BINARY_ACK, data=[], id=3)) == ["33[]"]


def test_json_is_compact_like_json_stringify() -> None:
    packet = Packet(P.EVENT, data=["m", {"a": [1, 2.5, None, True, "é"]}, ("t", "u")])
    assert encode(packet) == ['2["m",{"a":[1,2.5,null,true,"é"]},["t","u"]]']


def test_event_fast_path_matches_the_general_encoder() -> None:
    assert encode_event_text("/", "hey", ["Jude"]) == '2["hey","Jude"]'
    assert encode_event_text("/admin", "tellme", [], 1) == '2/admin,1["tellme"]'
    args = [{"x": [1, "y"]}, None]
    assert (
        encode_event_text("/chat", "ev", args, 12)
        == encode(Packet(P.EVENT, "/chat", ["ev", *args], 12))[0]
    )


def test_event_fast_path_hands_binary_arguments_back_to_the_caller() -> None:
    assert encode_event_text("/", "file", [{"body": [b"x"]}]) is None


def test_event_fast_path_still_rejects_values_json_cannot_hold() -> None:
    with pytest.raises(TypeError):
        encode_event_text("/", "ev", [object()])


@pytest.mark.parametrize(
    "packet",
    [
        Packet(P.EVENT, "admin", ["x"]),
        Packet(P.EVENT, "/a,b", ["x"]),
        Packet(P.EVENT, data=["x"], id=-1),
        Packet(P.EVENT, data=[]),
        Packet(P.EVENT, data=[1]),
        Packet(P.EVENT, data="x"),
        Packet(P.ACK, data={"a": 1}, id=1),
        Packet(P.CONNECT, data=["x"]),
        Packet(P.CONNECT_ERROR, data="Not authorized"),
        Packet(P.DISCONNECT, data={}),
        Packet(P.CONNECT, id=3),
    ],
)
def test_encoding_an_impossible_packet_is_a_programming_error(packet: Packet) -> None:
    with pytest.raises(ValueError):
        encode(packet)


def test_decoder_reports_waiting_for_attachments_until_the_last_one() -> None:
    decoder = Decoder()
    assert decoder.feed(f'52-["a",{PLACEHOLDER_1},{PLACEHOLDER_0}]') is None
    assert decoder.awaiting_attachments
    assert decoder.feed(b"zero") is None
    assert decoder.awaiting_attachments
    packet = decoder.feed(b"one")
    assert packet == Packet(P.EVENT, data=["a", b"one", b"zero"])
    assert decoder.feed('2["next"]') == Packet(P.EVENT, data=["next"])


def test_an_attachment_may_be_referenced_twice_or_not_at_all() -> None:
    decoder = Decoder()
    _feed_all(decoder, [f"62-9[{PLACEHOLDER_0},{PLACEHOLDER_0}]", b"a", b"unused"])


def test_placeholder_shaped_objects_in_plain_events_are_left_alone() -> None:
    assert Decoder().feed(f'2["x",{PLACEHOLDER_0}]') == Packet(
        P.EVENT, data=["x", {"_placeholder": True, "num": 0}]
    )


def test_namespace_without_trailing_comma_is_accepted_as_node_does() -> None:
    assert Decoder().feed("1/admin") == Packet(P.DISCONNECT, "/admin")


def test_decoder_accepts_the_configured_number_of_attachments_and_no_more() -> None:
    decoder = Decoder(max_attachments=2)
    assert decoder.feed(f'52-["a",{PLACEHOLDER_0},{PLACEHOLDER_1}]') is None
    with pytest.raises(ProtocolError, match="3 attachments, more than the 2 allowed"):
        Decoder(max_attachments=2).feed(f'53-["a",{PLACEHOLDER_0}]')


INVALID_TEXT = [
    ("", "unknown Socket.IO packet type"),
    ("7", "unknown Socket.IO packet type"),
    ("a", "unknown Socket.IO packet type"),
    ("2", "EVENT packet without a payload"),
    ("2[]", "non-empty array"),
    ('2{"a":1}', "non-empty array"),
    ("2[1]", "non-empty array"),
    ('2["disconnect"]', "reserved event name"),
    ('2/admin,["connect_error"]', "reserved event name"),
    ("2[", "not valid JSON"),
    ('2["a",]', "not valid JSON"),
    ('2["a"] x', "not valid JSON"),
    ('2admin,["a"]', "not valid JSON"),
    ('2/admin["a"]', "EVENT packet without a payload"),
    ('3["a"]', "ACK packet without an ack id"),
    ("31{}", "ACK payload must be an array"),
    ("0[]", "CONNECT payload must be an object"),
    ("0null", "CONNECT payload must be an object"),
    ("0/admin,12{}", "CONNECT packets carry no ack id"),
    ('4"Not authorized"', "CONNECT_ERROR payload must be an object"),
    ("4", "CONNECT_ERROR packet without a payload"),
    ("1{}", "DISCONNECT packets carry no payload"),
    ('29007199254740992["a"]', "larger than 2**53-1"),
    ("2" + "9" * 5000 + '["a"]', "larger than 2**53-1"),
    ('5["a"]', "attachment prefix"),
    ('5-["a"]', "attachment prefix"),
    ('5x-["a"]', "attachment prefix"),
    ('5²-["a"]', "attachment prefix"),
    ('50-["a"]', "announces no attachments"),
    ('511-["a"]', "more than the 10 allowed"),
    ('59999999-["a"]', "attachment prefix"),
    ('51-["a",{"_placeholder":true,"num":1}]', "placeholder refers to attachment 1"),
    ('51-["a",{"_placeholder":true,"num":-1}]', "placeholder refers to attachment -1"),
    ('51-["a",{"_placeholder":true,"num":true}]', "placeholder refers to attachment True"),
    ('51-["a",{"_placeholder":true,"num":0.0}]', "placeholder refers to attachment 0.0"),
    ('51-["a",{"_placeholder":true}]', "placeholder refers to attachment None"),
    ('51-[{"_placeholder":true,"num":0}]', "non-empty array starting with a string"),
    ('51-"a"', "non-empty array"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_TEXT, ids=[t[:40] for t, _ in INVALID_TEXT])
def test_invalid_text_packet_is_a_protocol_error_that_says_why(text: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("*", r"\*").replace("(", r"\(")):
        Decoder().feed(text)


def test_binary_data_without_a_preceding_binary_packet_is_refused() -> None:
    with pytest.raises(ProtocolError, match="binary data without a preceding binary packet"):
        Decoder().feed(b"\x01")


def test_text_while_waiting_for_attachments_is_refused_and_the_partial_packet_dropped() -> None:
    decoder = Decoder()
    decoder.feed(f'51-["a",{PLACEHOLDER_0}]')
    with pytest.raises(ProtocolError, match="waiting for binary attachments"):
        decoder.feed('2["b"]')
    assert not decoder.awaiting_attachments
    assert decoder.feed('2["c"]') == Packet(P.EVENT, data=["c"])


def test_deeply_nested_binary_payload_is_decoded_without_exhausting_the_stack() -> None:
    depth = 1000
    text = '51-["deep",' + "[" * depth + PLACEHOLDER_0 + "]" * depth + "]"
    decoder = Decoder()
    assert decoder.feed(text) is None
    packet = decoder.feed(b"!")
    assert packet is not None
    node: Any = packet.data[1]
    for _ in range(depth - 1):
        node = node[0]
    assert node == [b"!"]


def test_json_nested_past_the_parser_limit_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid JSON"):
        Decoder().feed('2["deep",' + "[" * 5000 + "]" * 5000 + "]")


def test_decoder_refuses_a_non_positive_attachment_limit() -> None:
    with pytest.raises(ValueError, match="max_attachments must be at least 1"):
        Decoder(max_attachments=0)


def test_lone_surrogate_escape_is_decoded_as_node_json_parse_does() -> None:
    # A browser cutting "ab😀" with .slice(0, 3) sends the high half alone.
    packet = Decoder().feed('2/chat,1["message:send",{"body":"ab\\ud83d"}]')
    assert packet == Packet(P.EVENT, "/chat", ["message:send", {"body": "ab\ud83d"}], 1)


def test_lone_surrogate_is_written_back_as_the_escape_json_stringify_writes() -> None:
    assert encode(Packet(P.EVENT, data=["echo", "x\udc00"])) == ['2["echo","x\\udc00"]']
    assert encode_event_text("/", "echo", ["\ud83d"]) == '2["echo","\\ud83d"]'
    assert encode(Packet(P.EVENT, data=["echo", "\ud83d", b"\x01"])) == [
        f'51-["echo","\\ud83d",{PLACEHOLDER_0}]',
        b"\x01",
    ]


@pytest.mark.parametrize(
    "text",
    [
        '2["\\ud83d",NaN]',
        '2["\\ud83d",Infinity]',
        '2["\\ud83d",' + "[" * 100_000,
        '2["\\ud83d"',
    ],
)
def test_payload_with_a_lone_surrogate_must_still_be_json(text: str) -> None:
    with pytest.raises(ProtocolError, match="not valid JSON"):
        Decoder().feed(text)
