"""Engine.IO v4 packets: WebSocket frames and HTTP long-polling payloads, without I/O.

The Engine.IO protocol (https://github.com/socketio/engine.io-protocol, "Packet encoding")
frames every packet as one type digit followed by its data. Over WebSocket each packet is one
frame and binary messages travel as raw binary frames; over long-polling several packets share
one body, separated by ``\\x1e``, and binary messages are base64 text prefixed with ``b``.

Nothing here reads a socket or a clock: the engine layer hands in frames and bodies and writes
out whatever these functions return.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

import orjson

from baatcheet.errors import ProtocolError

__all__ = [
    "SEPARATOR",
    "EnginePacket",
    "EnginePacketType",
    "decode_polling_payload",
    "decode_ws",
    "encode_polling_payload",
    "encode_ws",
    "open_packet_data",
]

SEPARATOR = "\x1e"
"""Record separator between packets of one long-polling payload (spec: "HTTP long-polling")."""


class EnginePacketType(IntEnum):
    """The seven Engine.IO packet types; the value is the digit that starts a packet."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


@dataclass(frozen=True, slots=True)
class EnginePacket:
    """One Engine.IO packet.

    Attributes:
        type: What the packet means to the session.
        data: The payload. Text for every type; ``bytes`` only for a ``MESSAGE`` that
            carries binary data (a binary WebSocket frame or a ``b``-prefixed polling packet).
    """

    type: EnginePacketType
    data: str | bytes = ""


# Indexed by packet type: a tuple lookup is cheaper than ``str(int)`` on every packet.
_PREFIXES: tuple[str, ...] = tuple(str(t.value) for t in EnginePacketType)
_TYPES_BY_DIGIT: dict[str, EnginePacketType] = {str(t.value): t for t in EnginePacketType}
_BINARY_PREFIX = "b"
_MESSAGE = EnginePacketType.MESSAGE  # an alias: enum attribute lookups are slow on Python 3.11


def encode_ws(packet: EnginePacket) -> str | bytes:
    """Return the content of the one WebSocket frame that carries ``packet``.

    Send a ``str`` result as a text frame and a ``bytes`` result as a binary frame.

    Raises:
        ValueError: ``packet`` has ``bytes`` data but is not a ``MESSAGE``.
    """
    data = packet.data
    if isinstance(data, str):
        return _PREFIXES[packet.type] + data
    if packet.type is not _MESSAGE:
        raise ValueError(f"only MESSAGE packets may carry bytes, not {packet.type.name}")
    return data


def decode_ws(frame: str | bytes) -> EnginePacket:
    """Parse the content of one received WebSocket frame.

    A binary frame is always a binary ``MESSAGE``; a text frame is a type digit and its data.

    Raises:
        ProtocolError: The text frame is empty or does not start with a known type digit.
    """
    if isinstance(frame, str):
        packet_type = _TYPES_BY_DIGIT.get(frame[:1])
        if packet_type is None:
            raise ProtocolError(_bad_type_message(frame))
        return EnginePacket(packet_type, frame[1:])
    return EnginePacket(_MESSAGE, bytes(frame))


def encode_polling_payload(packets: Iterable[EnginePacket]) -> str:
    """Join ``packets`` into the body of one long-polling response.

    Raises:
        ValueError: No packets were given (an empty body is not a payload; send a ``NOOP``
            instead), a text packet contains the ``\\x1e`` separator, or a packet other
            than ``MESSAGE`` carries bytes.
    """
    parts: list[str] = []
    for packet in packets:
        data = packet.data
        if isinstance(data, str):
            if SEPARATOR in data:
                raise ValueError("packet data must not contain the \\x1e record separator")
            parts.append(_PREFIXES[packet.type] + data)
        elif packet.type is _MESSAGE:
            parts.append(_BINARY_PREFIX + binascii.b2a_base64(data, newline=False).decode("ascii"))
        else:
            raise ValueError(f"only MESSAGE packets may carry bytes, not {packet.type.name}")
    if not parts:
        raise ValueError("a polling payload needs at least one packet")
    return SEPARATOR.join(parts)


def decode_polling_payload(body: str, max_packets: int | None = None) -> list[EnginePacket]:
    """Split the body of a long-polling POST into its packets.

    Args:
        body: The request body, already decoded from UTF-8.
        max_packets: Refuse bodies holding more packets than this (``None``: no limit).
            The body's byte size is the caller's to check, before decoding it.

    Raises:
        ProtocolError: The body is empty, holds an empty packet, a packet with an unknown
            type, invalid base64 after a ``b`` prefix, or more than ``max_packets`` packets.
    """
    if not body:
        raise ProtocolError("empty long-polling payload: expected at least one packet")
    if max_packets is not None:
        count = body.count(SEPARATOR) + 1
        if count > max_packets:
            raise ProtocolError(
                f"long-polling payload holds {count} packets, more than the {max_packets} allowed"
            )
    packets: list[EnginePacket] = []
    for part in body.split(SEPARATOR):
        head = part[:1]
        if head == _BINARY_PREFIX:
            packets.append(EnginePacket(_MESSAGE, _decode_base64(part)))
            continue
        packet_type = _TYPES_BY_DIGIT.get(head)
        if packet_type is None:
            raise ProtocolError(_bad_type_message(part))
        packets.append(EnginePacket(packet_type, part[1:]))
    return packets


def open_packet_data(
    sid: str,
    upgrades: list[str],
    ping_interval_ms: int,
    ping_timeout_ms: int,
    max_payload: int,
) -> str:
    """Return the JSON handshake carried by the ``OPEN`` packet (spec: "Handshake").

    Keys come in the order the reference server sends them; the JSON is compact.
    """
    return orjson.dumps(
        {
            "sid": sid,
            "upgrades": upgrades,
            "pingInterval": ping_interval_ms,
            "pingTimeout": ping_timeout_ms,
            "maxPayload": max_payload,
        }
    ).decode()


def _decode_base64(part: str) -> bytes:
    """Decode a ``b``-prefixed polling packet, rejecting anything but strict base64."""
    try:
        return binascii.a2b_base64(part[1:], strict_mode=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII characters in the text
        raise ProtocolError(f"binary packet is not valid base64: {exc}") from None


def _bad_type_message(packet: str) -> str:
    if not packet:
        return "empty Engine.IO packet: expected a type digit 0-6"
    return f"unknown Engine.IO packet type {packet[:1]!r}: expected a digit 0-6"
