"""Socket.IO v5 packets: encoder, binary attachment split/join and incremental decoder.

The format (https://github.com/socketio/socket.io-protocol, "Packet encoding") is::

    <type>[<attachments>-][<namespace>,][<ack id>][JSON payload without binary]
    + one Engine.IO binary message per attachment

Each text packet travels as the data of an Engine.IO ``MESSAGE``; the attachments follow as
binary ``MESSAGE`` packets. Nothing here does I/O: callers feed what the engine received and
send what the encoder returns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

import orjson

from baatcheet.errors import ProtocolError

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "RESERVED_EVENTS",
    "Decoder",
    "Packet",
    "PacketType",
    "encode",
    "encode_event_text",
]


class PacketType(IntEnum):
    """The seven Socket.IO packet types; the value is the digit that starts a packet."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


# The members as module constants, for every hot path that tests or builds a packet's type
# (here, the server, the Redis adapter and the Python client): on Python 3.11 each
# ``PacketType.X`` goes through the Enum metaclass's ``__getattr__`` hook, several times
# the cost of a global read.
CONNECT: Final = PacketType.CONNECT
DISCONNECT: Final = PacketType.DISCONNECT
EVENT: Final = PacketType.EVENT
ACK: Final = PacketType.ACK
CONNECT_ERROR: Final = PacketType.CONNECT_ERROR
BINARY_EVENT: Final = PacketType.BINARY_EVENT
BINARY_ACK: Final = PacketType.BINARY_ACK

RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names a peer may not emit: the reference parser refuses them, and so do we."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet, with its binary attachments already in place.

    Attributes:
        type: What the packet does. The decoder reports binary packets as ``EVENT`` / ``ACK``
            (like the reference parser); the encoder picks ``BINARY_*`` itself when ``data``
            holds bytes.
        namespace: The namespace, ``/`` by default.
        data: ``[event, *args]`` for ``EVENT``, ``[*args]`` for ``ACK``, a dict or ``None``
            for ``CONNECT``, ``{"message": ..., "data": ...}`` for ``CONNECT_ERROR`` and
            ``None`` for ``DISCONNECT``. ``bytes`` values may appear at any depth.
        id: The acknowledgement id, or ``None`` when no answer is wanted.
    """

    type: PacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None


_DIGITS: tuple[str, ...] = tuple(str(t.value) for t in PacketType)
_TYPES_BY_DIGIT: dict[str, PacketType] = {str(t.value): t for t in PacketType}
_BINARY_TYPES = (bytes, bytearray, memoryview)
_EVENT_TYPES = frozenset({EVENT, BINARY_EVENT})
_ACK_TYPES = frozenset({ACK, BINARY_ACK})
_ID_TYPES = _EVENT_TYPES | _ACK_TYPES
_MAX_SAFE_INTEGER = 2**53 - 1
"""Largest ack id a JavaScript peer can represent exactly."""
_MAX_ATTACHMENT_DIGITS = 6


def encode(packet: Packet) -> list[str | bytes]:
    """Encode ``packet`` into the messages to send, in order.

    The first element is the text packet; each following element is one binary attachment,
    to be sent as a binary Engine.IO ``MESSAGE``. ``EVENT`` and ``ACK`` packets whose data
    holds ``bytes``, ``bytearray`` or ``memoryview`` values (in nested lists, tuples or dicts)
    become ``BINARY_EVENT`` / ``BINARY_ACK`` with ``{"_placeholder":true,"num":i}`` in their
    place; ``BINARY_*`` packets without binary data are sent as plain ``EVENT`` / ``ACK``.

    Raises:
        ValueError: The namespace, ack id or data shape cannot be encoded for this type.
        TypeError: ``data`` holds a value JSON cannot represent.
    """
    packet_type = packet.type
    data = packet.data
    _check_data_shape(packet_type, data)
    is_event = packet_type in _EVENT_TYPES
    if not is_event and packet_type not in _ACK_TYPES:
        if packet.id is not None:
            raise ValueError(f"{packet_type.name} packets carry no ack id")
        head = _head(_DIGITS[packet_type], packet.namespace, None)
        if data is None:
            return [head]
        return [head + _dumps(data).decode()]
    try:
        payload = _dumps(data)
    except TypeError:
        attachments: list[str | bytes] = []
        payload = _dumps(_deconstruct(data, attachments))
        if not attachments:
            raise
        binary_type = BINARY_EVENT if is_event else BINARY_ACK
        prefix = _DIGITS[binary_type] + str(len(attachments)) + "-"
        attachments.insert(0, _head(prefix, packet.namespace, packet.id) + payload.decode())
        return attachments
    plain_type = EVENT if is_event else ACK
    return [_head(_DIGITS[plain_type], packet.namespace, packet.id) + payload.decode()]


def encode_event_text(
    namespace: str, event: str, args: Sequence[Any], ack_id: int | None = None
) -> str | None:
    """Encode an ``EVENT`` without building a :class:`Packet`: the broadcast hot path.

    Returns:
        The text packet, or ``None`` when ``args`` hold binary data; the caller then uses
        :func:`encode` to get the attachments too.

    Raises:
        ValueError: The namespace or ack id cannot be encoded.
        TypeError: ``args`` hold a value JSON cannot represent.
    """
    try:
        payload = _dumps([event, *args])
    except TypeError:
        if _has_binary(args):
            return None
        raise
    return _head("2", namespace, ack_id) + payload.decode()


class Decoder:
    """Incremental decoder for one connection: a text packet, then its attachments.

    Feed it every Engine.IO ``MESSAGE`` in arrival order. A ``BINARY_*`` text packet
    announces how many binary messages follow; the decoder holds it until the last one
    arrives and then returns the packet with each placeholder replaced by its bytes.
    After a :class:`ProtocolError` the decoder forgets any half-received packet; the caller
    is expected to close the connection, as the reference server does.
    """

    __slots__ = ("_attachments", "_max_attachments", "_partial", "_slots", "_wanted")

    def __init__(self, max_attachments: int = 10) -> None:
        """Create a decoder that accepts at most ``max_attachments`` per packet."""
        if max_attachments < 1:
            raise ValueError(f"max_attachments must be at least 1, not {max_attachments}")
        self._max_attachments = max_attachments
        self._partial: Packet | None = None
        self._wanted = 0
        self._attachments: list[bytes] = []
        self._slots: list[tuple[Any, Any, int]] = []

    @property
    def awaiting_attachments(self) -> bool:
        """Whether a binary packet is waiting for more attachments."""
        return self._partial is not None

    def feed(self, data: str | bytes) -> Packet | None:
        """Take one received message.

        Returns:
            The decoded packet once it is complete; ``None`` while attachments are missing.

        Raises:
            ProtocolError: Unknown type, bad attachment count, namespace or ack id, invalid
                JSON, a payload of the wrong shape for its type, a reserved event name, a
                bad placeholder, binary data when none is expected or text while waiting
                for an attachment.
        """
        if isinstance(data, str):
            if self._partial is not None:
                self._reset()
                raise ProtocolError(
                    "got a text packet while waiting for binary attachments of the previous one"
                )
            return self._decode_text(data)
        partial = self._partial
        if partial is None:
            raise ProtocolError("got binary data without a preceding binary packet")
        attachments = self._attachments
        attachments.append(bytes(data))
        if len(attachments) < self._wanted:
            return None
        for container, key, num in self._slots:
            container[key] = attachments[num]
        self._reset()
        return partial

    def _reset(self) -> None:
        self._partial = None
        self._wanted = 0
        self._attachments = []
        self._slots = []

    def _decode_text(self, text: str) -> Packet | None:
        packet_type = _TYPES_BY_DIGIT.get(text[:1])
        if packet_type is None:
            raise ProtocolError(f"unknown Socket.IO packet type {text[:1]!r}: expected 0-6")
        end = len(text)
        i = 1
        wanted = 0
        if packet_type is BINARY_EVENT or packet_type is BINARY_ACK:
            wanted, i = self._attachment_count(text)
        namespace = "/"
        if i < end and text[i] == "/":
            comma = text.find(",", i)
            if comma == -1:
                namespace, i = text[i:], end
            else:
                namespace, i = text[i:comma], comma + 1
        start = i
        while i < end and "0" <= text[i] <= "9":
            i += 1
        ack_id: int | None = None
        if i > start:
            ack_id = _ack_id(packet_type, text[start:i])
        if i < end:
            payload = _loads(text[i:])
            _check_payload(packet_type, payload, ack_id)
        elif packet_type is CONNECT or packet_type is DISCONNECT:
            payload = None
        else:
            raise ProtocolError(f"{packet_type.name} packet without a payload")
        if wanted:
            slots = _placeholder_slots(payload, wanted)
            plain = EVENT if packet_type is BINARY_EVENT else ACK
            self._partial = Packet(plain, namespace, payload, ack_id)
            self._wanted = wanted
            self._slots = slots
            return None
        return Packet(packet_type, namespace, payload, ack_id)

    def _attachment_count(self, text: str) -> tuple[int, int]:
        dash = text.find("-", 1, 2 + _MAX_ATTACHMENT_DIGITS)
        digits = text[1:dash]
        if dash == -1 or not (digits.isascii() and digits.isdigit()):
            raise ProtocolError("binary packet without a valid '<count>-' attachment prefix")
        count = int(digits)
        if count < 1:
            raise ProtocolError("binary packet announces no attachments")
        if count > self._max_attachments:
            raise ProtocolError(
                f"binary packet announces {count} attachments, more than the"
                f" {self._max_attachments} allowed"
            )
        return count, dash + 1


def _dumps(data: Any) -> bytes:
    """JSON as ``JSON.stringify`` writes it, lone UTF-16 surrogates included.

    orjson refuses strings holding a lone surrogate (which :func:`_loads` can produce, as
    Node's ``JSON.parse`` does); for those rare values the standard library writes the
    surrogate as a ``\\uXXXX`` escape, exactly what a JavaScript peer would send.

    Raises:
        TypeError: ``data`` holds a value JSON cannot represent (binary data included).
    """
    try:
        return orjson.dumps(data)
    except TypeError as exc:
        if "surrogates" not in str(exc):
            raise
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def _loads(text: str) -> Any:
    """Parse a packet payload as Node's ``JSON.parse`` would.

    A browser that cuts text with ``.slice()`` can leave half of a surrogate pair, which
    ``JSON.stringify`` sends as a ``\\ud83d`` escape. orjson rejects that, and refusing it
    would drop the whole connection, so such payloads are parsed again by the standard
    library (only then: it is several times slower), and the Python string keeps the lone
    code unit as JavaScript does. Layers above decide whether to store it (the chat
    replaces it by U+FFFD).

    Raises:
        ProtocolError: The payload is not JSON (``NaN`` and ``Infinity`` included, as in
            JavaScript) or nests too deeply.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise ProtocolError(f"packet payload is not valid JSON: {exc}") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"packet payload is not valid JSON: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _head(prefix: str, namespace: str, ack_id: int | None) -> str:
    """Return ``prefix`` followed by the namespace (unless ``/``) and the ack id."""
    if namespace != "/":
        if namespace[:1] != "/" or "," in namespace:
            raise ValueError(f"namespace must start with '/' and contain no ',': {namespace!r}")
        prefix += namespace + ","
    if ack_id is not None:
        if not 0 <= ack_id <= _MAX_SAFE_INTEGER:
            raise ValueError(f"ack id must be between 0 and 2**53-1, not {ack_id}")
        prefix += str(ack_id)
    return prefix


def _check_data_shape(packet_type: PacketType, data: Any) -> None:
    """Refuse, on the way out, what the decoder would refuse on the way in."""
    if packet_type in _EVENT_TYPES:
        if not (isinstance(data, list | tuple) and data and isinstance(data[0], str)):
            raise ValueError("EVENT data must be a non-empty list starting with the event name")
    elif packet_type in _ACK_TYPES:
        if not isinstance(data, list | tuple):
            raise ValueError("ACK data must be a list of arguments")
    elif packet_type is CONNECT:
        if data is not None and not isinstance(data, dict):
            raise ValueError("CONNECT data must be a dict or None")
    elif packet_type is CONNECT_ERROR:
        if not isinstance(data, dict):
            raise ValueError("CONNECT_ERROR data must be a dict such as {'message': ...}")
    elif data is not None:
        raise ValueError("DISCONNECT packets carry no data")


def _check_payload(packet_type: PacketType, payload: Any, ack_id: int | None) -> None:
    """Raise ProtocolError unless a decoded payload has the shape its type requires."""
    if packet_type in _EVENT_TYPES:
        if not (type(payload) is list and payload and type(payload[0]) is str):
            raise ProtocolError("EVENT payload must be a non-empty array starting with a string")
        if payload[0] in RESERVED_EVENTS:
            raise ProtocolError(f"{payload[0]!r} is a reserved event name")
    elif packet_type in _ACK_TYPES:
        if type(payload) is not list:
            raise ProtocolError("ACK payload must be an array")
        if ack_id is None:
            raise ProtocolError("ACK packet without an ack id")
    elif packet_type is CONNECT:
        if type(payload) is not dict:
            raise ProtocolError("CONNECT payload must be an object")
    elif packet_type is CONNECT_ERROR:
        if type(payload) is not dict:
            raise ProtocolError("CONNECT_ERROR payload must be an object")
    else:
        raise ProtocolError("DISCONNECT packets carry no payload")


def _ack_id(packet_type: PacketType, digits: str) -> int:
    if packet_type not in _ID_TYPES:
        raise ProtocolError(f"{packet_type.name} packets carry no ack id")
    if len(digits) > 16 or (ack_id := int(digits)) > _MAX_SAFE_INTEGER:
        raise ProtocolError(f"ack id {digits[:20]} is larger than 2**53-1")
    return ack_id


def _placeholder_slots(payload: Any, count: int) -> list[tuple[Any, Any, int]]:
    """Find every placeholder in a decoded payload, as (container, key, attachment index).

    Iterative rather than recursive: JSON nested a thousand deep is valid for the parser
    and must not exhaust the interpreter stack.
    """
    slots: list[tuple[Any, Any, int]] = []
    stack: list[Any] = [payload]
    while stack:
        container = stack.pop()
        items = enumerate(container) if type(container) is list else container.items()
        for key, value in items:
            kind = type(value)
            if kind is dict:
                if value.get("_placeholder") is True:
                    num = value.get("num")
                    if type(num) is not int or not 0 <= num < count:
                        raise ProtocolError(
                            f"placeholder refers to attachment {num!r}; this packet has {count}"
                        )
                    slots.append((container, key, num))
                else:
                    stack.append(value)
            elif kind is list:
                stack.append(value)
    return slots


def _deconstruct(data: Any, attachments: list[str | bytes]) -> Any:
    """Copy ``data`` with each binary value moved to ``attachments`` and a placeholder left."""
    if isinstance(data, _BINARY_TYPES):
        attachments.append(data if type(data) is bytes else bytes(data))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(data, list | tuple):
        return [_deconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        return {key: _deconstruct(value, attachments) for key, value in data.items()}
    return data


def _has_binary(data: Any) -> bool:
    if isinstance(data, _BINARY_TYPES):
        return True
    if isinstance(data, list | tuple):
        return any(_has_binary(item) for item in data)
    if isinstance(data, dict):
        return any(_has_binary(value) for value in data.values())
    return False
