"""Outgoing WebSocket frames are valid RFC 6455 frames, checked with an independent parser."""

from __future__ import annotations

import base64

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from baatcheet.engine.frames import (
    OPCODE_BINARY,
    OPCODE_TEXT,
    PreparedMessage,
    build_frame,
    prepare_message,
)


def _parse_all(data: bytes) -> list[Frame]:
    """Parse ``data`` as the client side of an open connection does (``websockets``)."""
    client = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
    client.receive_data(data)
    frames = [event for event in client.events_received() if isinstance(event, Frame)]
    assert client.parser_exc is None, f"invalid frames: {client.parser_exc!r}"
    return frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
def test_a_frame_of_any_length_parses_back_to_its_payload(size: int) -> None:
    payload = bytes(index % 251 for index in range(size))
    (frame,) = _parse_all(build_frame(OPCODE_BINARY, payload))
    assert frame.opcode is Opcode.BINARY
    assert frame.fin is True
    assert frame.data == payload


@pytest.mark.parametrize(("size", "header_length"), [(125, 2), (126, 4), (65_535, 4), (65_536, 10)])
def test_the_length_field_uses_the_shortest_encoding_the_rfc_allows(
    size: int, header_length: int
) -> None:
    frame = build_frame(OPCODE_TEXT, b"a" * size)
    assert len(frame) == header_length + size
    assert frame[0] == 0x81
    assert frame[1] & 0x80 == 0, "a server must never mask its frames"


def test_a_text_only_message_is_one_text_frame_with_the_engineio_message_prefix() -> None:
    message = prepare_message(['2["chat","hi"]'])
    (frame,) = _parse_all(message.ws)
    assert frame.opcode is Opcode.TEXT
    assert frame.data == b'42["chat","hi"]'
    assert message.polling == ('42["chat","hi"]',)


def test_a_binary_message_frames_the_text_packet_then_each_attachment_in_order() -> None:
    header = '51-["file",{"_placeholder":true,"num":0}]'
    message = prepare_message([header, b"\x00\xff"])
    text, blob = _parse_all(message.ws)
    assert (text.opcode, text.data) == (Opcode.TEXT, b"4" + header.encode())
    assert (blob.opcode, blob.data) == (Opcode.BINARY, b"\x00\xff")
    assert message.polling == ("4" + header, "b" + base64.b64encode(b"\x00\xff").decode())


def test_the_polling_form_is_built_once_and_then_reused() -> None:
    message = PreparedMessage(parts=("2[]",), ws=b"")
    first = message.polling
    assert message.polling is first


def test_non_ascii_text_is_framed_as_utf8() -> None:
    (frame,) = _parse_all(prepare_message(['2["नमस्ते"]']).ws)
    assert bytes(frame.data).decode() == '42["नमस्ते"]'
