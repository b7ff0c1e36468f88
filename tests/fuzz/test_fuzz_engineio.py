"""Fuzz the Engine.IO decoders: WebSocket frames and long-polling payloads.

Inputs are mostly near-valid (a type digit and plausible data, strict and broken base64,
separators in odd places) so they reach past the first check. The oracle: a decoder returns
packets that encode back to the input, or raises ``ProtocolError`` — nothing else.
"""

from __future__ import annotations

import binascii

from hypothesis import given
from hypothesis import strategies as st

from baatcheet.errors import ProtocolError
from baatcheet.proto.engineio import (
    SEPARATOR,
    EnginePacket,
    EnginePacketType,
    decode_polling_payload,
    decode_ws,
    encode_ws,
)
from support.fuzzing import RUNS, budget, json_values, wire_texts

_digits = st.sampled_from([*"0123456789", "b", "", " ", "-1", "4" * 3])
_data = wire_texts | json_values.map(repr) | st.sampled_from(["probe", '{"sid":"x"}', "[]"])
text_frames = st.tuples(_digits, _data).map("".join) | wire_texts
binary_frames = st.binary(max_size=64)

_base64 = st.binary(max_size=48).map(lambda raw: binascii.b2a_base64(raw, newline=False).decode())
_broken_base64 = st.one_of(
    _base64.map(lambda text: text.rstrip("=")),  # padding lost
    _base64.map(lambda text: text + "="),
    _base64.map(lambda text: text[:-1] if text else "A"),
    st.tuples(_base64, wire_texts).map(lambda pair: pair[0] + pair[1]),
    st.text(alphabet="AZaz09+/=-_ \n\t", max_size=12),
)
_polling_parts = st.one_of(
    st.tuples(_digits, _data.map(lambda text: text.replace(SEPARATOR, ""))).map("".join),
    _base64.map(lambda text: "b" + text),
    _broken_base64.map(lambda text: "b" + text),
    st.sampled_from(["", "b", "4", "6", "2probe", "3", "1", "40", "7", "\x00"]),
    wire_texts,
)
polling_bodies = st.lists(_polling_parts, max_size=10).map(SEPARATOR.join) | wire_texts


@budget()
@given(text_frames | binary_frames)
def test_websocket_frames_decode_to_packets_that_encode_back_or_raise_protocol_error(
    frame: str | bytes,
) -> None:
    RUNS["engineio.decode_ws"] += 1
    try:
        packet = decode_ws(frame)
    except ProtocolError:
        assert isinstance(frame, str), "a binary frame is always a valid MESSAGE"
        return
    assert isinstance(packet, EnginePacket)
    assert isinstance(packet.type, EnginePacketType)
    assert encode_ws(packet) == frame


@budget()
@given(polling_bodies, st.none() | st.integers(min_value=0, max_value=12))
def test_polling_payloads_decode_to_their_packets_or_raise_protocol_error(
    body: str, max_packets: int | None
) -> None:
    RUNS["engineio.decode_polling_payload"] += 1
    try:
        packets = decode_polling_payload(body, max_packets)
    except ProtocolError:
        return
    parts = body.split(SEPARATOR)
    assert len(packets) == len(parts)
    assert max_packets is None or len(packets) <= max_packets
    for part, packet in zip(parts, packets, strict=True):
        if isinstance(packet.data, bytes):
            assert packet.type is EnginePacketType.MESSAGE
            assert part.startswith("b")
            assert binascii.a2b_base64(part[1:]) == packet.data
        else:
            assert encode_ws(packet) == part
