"""Engine.IO v4 packet encoding, checked against the examples of the protocol's README."""

from __future__ import annotations

import orjson
import pytest

from baatcheet.errors import ProtocolError
from baatcheet.proto import (
    SEPARATOR,
    EnginePacket,
    EnginePacketType,
    decode_polling_payload,
    decode_ws,
    encode_polling_payload,
    encode_ws,
    open_packet_data,
)

MESSAGE = EnginePacketType.MESSAGE

SPEC_WS_FRAMES = [
    ("4hello", EnginePacket(MESSAGE, "hello")),
    ("2probe", EnginePacket(EnginePacketType.PING, "probe")),
    ("3probe", EnginePacket(EnginePacketType.PONG, "probe")),
    ("5", EnginePacket(EnginePacketType.UPGRADE)),
    ("2", EnginePacket(EnginePacketType.PING)),
    ("3", EnginePacket(EnginePacketType.PONG)),
    ("1", EnginePacket(EnginePacketType.CLOSE)),
    ("6", EnginePacket(EnginePacketType.NOOP)),
    ('42["hey","Jude"]', EnginePacket(MESSAGE, '2["hey","Jude"]')),
]


@pytest.mark.parametrize(("frame", "packet"), SPEC_WS_FRAMES, ids=[f for f, _ in SPEC_WS_FRAMES])
def test_websocket_text_frames_match_the_spec_examples(frame: str, packet: EnginePacket) -> None:
    assert encode_ws(packet) == frame
    assert decode_ws(frame) == packet


def test_binary_message_is_sent_as_the_raw_bytes_of_a_binary_frame() -> None:
    packet = EnginePacket(MESSAGE, b"\x01\x02\x03\x04")
    assert encode_ws(packet) == b"\x01\x02\x03\x04"
    assert decode_ws(b"\x01\x02\x03\x04") == packet


def test_binary_frame_of_any_bytes_like_type_decodes_to_bytes() -> None:
    decoded = decode_ws(bytearray(b"\x00\xff"))  # type: ignore[arg-type]
    assert decoded == EnginePacket(MESSAGE, b"\x00\xff")
    assert type(decoded.data) is bytes


def test_polling_payload_joins_packets_with_the_record_separator() -> None:
    packets = [
        EnginePacket(MESSAGE, "hello"),
        EnginePacket(EnginePacketType.PING),
        EnginePacket(MESSAGE, "world"),
    ]
    assert encode_polling_payload(packets) == "4hello\x1e2\x1e4world"
    assert decode_polling_payload("4hello\x1e2\x1e4world") == packets


def test_polling_payload_carries_binary_as_b_prefixed_base64() -> None:
    packets = [EnginePacket(MESSAGE, "hello"), EnginePacket(MESSAGE, b"\x01\x02\x03\x04")]
    assert encode_polling_payload(packets) == "4hello\x1ebAQIDBA=="
    assert decode_polling_payload("4hello\x1ebAQIDBA==") == packets


def test_polling_payload_of_the_sample_session_splits_into_two_messages() -> None:
    body = '42["hello"]\x1e42["world"]'
    assert decode_polling_payload(body) == [
        EnginePacket(MESSAGE, '2["hello"]'),
        EnginePacket(MESSAGE, '2["world"]'),
    ]


def test_polling_payload_keeps_non_ascii_text_intact() -> None:
    body = "4€ and 😀" + SEPARATOR + "4ok"
    assert decode_polling_payload(body)[0] == EnginePacket(MESSAGE, "€ and 😀")


def test_open_packet_data_matches_the_spec_handshake_exactly() -> None:
    data = open_packet_data("lv_VI97HAXpY6yYWAAAC", ["websocket"], 25000, 5000, 1000000)
    assert data == (
        '{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],'
        '"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}'
    )
    assert encode_ws(EnginePacket(EnginePacketType.OPEN, data)) == "0" + data


def test_open_packet_data_with_no_upgrades_lists_an_empty_array() -> None:
    assert orjson.loads(open_packet_data("x", [], 300, 200, 1_000_000))["upgrades"] == []


@pytest.mark.parametrize("frame", ["", "7", "9hello", "b", "bAQIDBA==", "x", "-1", " 4hi", "٤hi"])
def test_invalid_websocket_text_frame_is_a_protocol_error(frame: str) -> None:
    with pytest.raises(ProtocolError, match=r"Engine\.IO packet"):
        decode_ws(frame)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "\x1e",
        "4hello\x1e",
        "\x1e4hello",
        "4a\x1e\x1e4b",
        "7",
        "4ok\x1eZ",
        "b!!!",
        "bAQIDBA",
        "bAQIDBA==extra",
        "b€€€€",
    ],
)
def test_invalid_polling_payload_is_a_protocol_error(body: str) -> None:
    with pytest.raises(ProtocolError):
        decode_polling_payload(body)


def test_polling_payload_with_more_packets_than_allowed_is_refused() -> None:
    body = SEPARATOR.join(["4x"] * 5)
    assert len(decode_polling_payload(body, max_packets=5)) == 5
    with pytest.raises(ProtocolError, match="holds 5 packets, more than the 4 allowed"):
        decode_polling_payload(body, max_packets=4)


def test_empty_binary_message_survives_polling() -> None:
    packets = [EnginePacket(MESSAGE, b"")]
    assert encode_polling_payload(packets) == "b"
    assert decode_polling_payload("b") == packets


def test_encoding_bytes_on_a_non_message_packet_is_a_programming_error() -> None:
    packet = EnginePacket(EnginePacketType.PING, b"probe")
    with pytest.raises(ValueError, match="only MESSAGE packets may carry bytes"):
        encode_ws(packet)
    with pytest.raises(ValueError, match="only MESSAGE packets may carry bytes"):
        encode_polling_payload([packet])


def test_polling_encoder_refuses_text_that_would_split_the_payload() -> None:
    with pytest.raises(ValueError, match="record separator"):
        encode_polling_payload([EnginePacket(MESSAGE, "a\x1eb")])


def test_polling_encoder_refuses_an_empty_payload() -> None:
    with pytest.raises(ValueError, match="at least one packet"):
        encode_polling_payload([])
