"""Sans-I/O protocol core: Engine.IO v4 and Socket.IO v5 codecs, the Engine.IO session.

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
from baatcheet.proto.engineio_session import CloseReason, ServerSession, TransportName
from baatcheet.proto.heartbeat import Heartbeat, PingWatchdog
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
    "CloseReason",
    "Decoder",
    "EnginePacket",
    "EnginePacketType",
    "Heartbeat",
    "Packet",
    "PacketType",
    "PingWatchdog",
    "ServerSession",
    "TransportName",
    "decode_polling_payload",
    "decode_ws",
    "encode",
    "encode_event_text",
    "encode_polling_payload",
    "encode_ws",
    "open_packet_data",
]
