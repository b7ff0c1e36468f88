"""Sans-I/O protocol core: Engine.IO v4 and Socket.IO v5 codecs and heartbeat timing.

Nothing in this package touches a socket, a task or a clock. The engine layer feeds it the
frames and bodies it received, sends what it returns, and passes the current time in.
"""

from __future__ import annotations

from baatcheet.proto.engineio import (
    SEPARATOR,
    EnginePacket,
    EnginePacketType,
    decode_polling_payload,
    decode_ws,
    encode_polling_payload,
    encode_ws,
    open_packet_data,
)
from baatcheet.proto.heartbeat import Heartbeat
from baatcheet.proto.socketio import (
    RESERVED_EVENTS,
    Decoder,
    Packet,
    PacketType,
    encode,
    encode_event_text,
)

__all__ = [
    "RESERVED_EVENTS",
    "SEPARATOR",
    "Decoder",
    "EnginePacket",
    "EnginePacketType",
    "Heartbeat",
    "Packet",
    "PacketType",
    "decode_polling_payload",
    "decode_ws",
    "encode",
    "encode_event_text",
    "encode_polling_payload",
    "encode_ws",
    "open_packet_data",
]
