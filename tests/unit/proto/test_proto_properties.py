"""Property tests: packets survive encode→decode; garbage only ever raises ProtocolError."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baatcheet.errors import ProtocolError
from baatcheet.proto import (
    RESERVED_EVENTS,
    SEPARATOR,
    Decoder,
    EnginePacket,
    EnginePacketType,
    Packet,
    PacketType,
    decode_polling_payload,
    decode_ws,
    encode,
    encode_event_text,
    encode_polling_payload,
    encode_ws,
)

PROPERTY = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

# Text a peer can really send: WebSocket text and HTTP bodies are valid UTF-8, so no surrogates.
texts = st.text(st.characters(codec="utf-8"))
any_texts = st.text(st.characters(exclude_categories=()))  # lone surrogates too
keys = texts.filter(lambda key: key != "_placeholder")
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
json_with_binary = st.recursive(
    scalars | st.binary(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
namespaces = st.just("/") | texts.filter(lambda text: "," not in text).map(lambda text: "/" + text)
ack_ids = st.integers(min_value=0, max_value=2**53 - 1)
event_names = texts.filter(lambda name: name not in RESERVED_EVENTS)


def _packets(args_values: st.SearchStrategy[Any]) -> st.SearchStrategy[Packet]:
    """Any packet; only EVENT and ACK arguments draw from ``args_values`` (binary is theirs)."""
    values = json_values
    args = st.lists(args_values, max_size=5)
    return st.one_of(
        st.builds(
            Packet,
            st.just(PacketType.CONNECT),
            namespaces,
            st.none() | st.dictionaries(keys, values, max_size=4),
        ),
        st.builds(Packet, st.just(PacketType.DISCONNECT), namespaces),
        st.builds(
            Packet,
            st.just(PacketType.EVENT),
            namespaces,
            st.tuples(event_names, args).map(lambda pair: [pair[0], *pair[1]]),
            st.none() | ack_ids,
        ),
        st.builds(Packet, st.just(PacketType.ACK), namespaces, args, ack_ids),
        st.builds(
            Packet,
            st.just(PacketType.CONNECT_ERROR),
            namespaces,
            st.builds(lambda message, data: {"message": message, "data": data}, texts, values),
        ),
    )


def _count_binary(value: Any) -> int:
    if isinstance(value, bytes):
        return 1
    if isinstance(value, list):
        return sum(_count_binary(item) for item in value)
    if isinstance(value, dict):
        return sum(_count_binary(item) for item in value.values())
    return 0


@PROPERTY
@given(_packets(json_with_binary))
def test_every_socketio_packet_survives_encode_then_decode(packet: Packet) -> None:
    parts = encode(packet)
    attachments = _count_binary(packet.data)
    assert len(parts) == 1 + attachments
    assert isinstance(parts[0], str)
    assert all(isinstance(part, bytes) for part in parts[1:])
    decoder = Decoder(max_attachments=max(attachments, 1))
    for part in parts[:-1]:
        assert decoder.feed(part) is None
    assert decoder.feed(parts[-1]) == packet
    assert not decoder.awaiting_attachments


@PROPERTY
@given(namespaces, event_names, st.lists(json_values, max_size=5), st.none() | ack_ids)
def test_event_fast_path_equals_the_general_encoder(
    namespace: str, event: str, args: list[Any], ack_id: int | None
) -> None:
    text = encode_event_text(namespace, event, args, ack_id)
    assert [text] == encode(Packet(PacketType.EVENT, namespace, [event, *args], ack_id))


@PROPERTY
@given(namespaces, event_names, st.lists(json_with_binary, max_size=5))
def test_event_fast_path_declines_exactly_when_arguments_hold_binary(
    namespace: str, event: str, args: list[Any]
) -> None:
    text = encode_event_text(namespace, event, args)
    assert (text is None) == (_count_binary(args) > 0)


engine_text_packets = st.builds(EnginePacket, st.sampled_from(EnginePacketType), texts)
engine_binary_packets = st.builds(EnginePacket, st.just(EnginePacketType.MESSAGE), st.binary())


@PROPERTY
@given(engine_text_packets | engine_binary_packets)
def test_every_engineio_packet_survives_a_websocket_frame(packet: EnginePacket) -> None:
    assert decode_ws(encode_ws(packet)) == packet


@PROPERTY
@given(
    st.lists(
        st.builds(
            EnginePacket,
            st.sampled_from(EnginePacketType),
            texts.filter(lambda text: SEPARATOR not in text),
        )
        | engine_binary_packets,
        min_size=1,
        max_size=8,
    )
)
def test_every_engineio_packet_list_survives_a_polling_payload(packets: list[EnginePacket]) -> None:
    assert decode_polling_payload(encode_polling_payload(packets)) == packets


@PROPERTY
@given(any_texts | st.binary())
def test_websocket_frame_decoder_raises_only_protocol_errors(frame: str | bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_ws(frame)


polling_like = st.lists(
    st.sampled_from(["", "4", "2", "b", "bAQ", "=", "7", SEPARATOR]) | any_texts, max_size=8
).map("".join)


@PROPERTY
@given(any_texts | polling_like, st.none() | st.integers(min_value=0, max_value=5))
def test_polling_payload_decoder_raises_only_protocol_errors(
    body: str, max_packets: int | None
) -> None:
    with contextlib.suppress(ProtocolError):
        decode_polling_payload(body, max_packets)


# Fragments that steer random text into the decoder's deeper branches.
sio_fragments = st.sampled_from(
    [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "1-",
        "2-",
        "0-",
        "/",
        "/admin,",
        ",",
        "12",
        "-",
        "[",
        "]",
        "{",
        "}",
        '"',
        ":",
        ",",
        '"a"',
        '"_placeholder"',
        "true",
        "null",
        '"num"',
        "0",
        "1",
        "-1",
        "9" * 20,
        '{"_placeholder":true,"num":0}',
        '["ev"]',
        '"disconnect"',
    ]
)
sio_like = st.lists(sio_fragments | any_texts, max_size=12).map("".join)


@PROPERTY
@given(st.lists(any_texts | sio_like | st.binary(max_size=8), min_size=1, max_size=6))
def test_socketio_decoder_raises_only_protocol_errors(messages: list[str | bytes]) -> None:
    decoder = Decoder()
    for message in messages:
        try:
            packet = decoder.feed(message)
        except ProtocolError:
            assert not decoder.awaiting_attachments
            continue
        assert packet is None or isinstance(packet, Packet)


@PROPERTY
@given(_packets(json_with_binary), st.data())
def test_socketio_decoder_survives_corrupted_encodings(packet: Packet, data: st.DataObject) -> None:
    text = encode(packet)[0]
    assert isinstance(text, str)
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    junk = data.draw(any_texts | sio_fragments)
    corrupted = text[:cut] + junk + text[cut + data.draw(st.integers(0, 3)) :]
    decoder = Decoder()
    with contextlib.suppress(ProtocolError):
        decoder.feed(corrupted)
