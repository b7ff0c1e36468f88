"""Outgoing WebSocket frames, built once and written to many transports.

A server never masks its frames (RFC 6455 §5.1), so a frame's bytes do not depend on
the recipient: a broadcast is framed here once and the same ``bytes`` object is
handed to every transport's ``write``. Incoming frames are parsed by the
``websockets`` library's sans-I/O protocol instead; only this direction is ours,
because it is the one that must be shared between recipients.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

__all__ = ["OPCODE_BINARY", "OPCODE_TEXT", "PreparedMessage", "build_frame", "prepare_message"]

OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
_FIN = 0x80
_LEN16 = 126
_LEN64 = 127


def build_frame(opcode: int, payload: bytes) -> bytes:
    """Return one unfragmented, unmasked frame carrying ``payload`` (RFC 6455 §5.2)."""
    length = len(payload)
    if length < _LEN16:
        header = bytes((_FIN | opcode, length))
    elif length < 0x10000:
        header = bytes((_FIN | opcode, _LEN16)) + length.to_bytes(2, "big")
    else:
        header = bytes((_FIN | opcode, _LEN64)) + length.to_bytes(8, "big")
    return header + payload


@dataclass(slots=True)
class PreparedMessage:
    """One Engine.IO MESSAGE (plus binary attachments), ready for any transport.

    ``ws`` holds every WebSocket frame of the message concatenated, so a WebSocket
    recipient costs exactly one ``transport.write``. ``polling`` holds the same
    packets in long-polling form (text as ``4…``, binary as ``b<base64>``); it is
    built only if a polling recipient asks for it.
    """

    parts: tuple[str | bytes, ...]
    ws: bytes
    _polling: tuple[str, ...] | None = field(default=None, repr=False)

    @property
    def polling(self) -> tuple[str, ...]:
        """The packets as long-polling payload items (joined with ``\\x1e`` by the caller)."""
        if self._polling is None:
            self._polling = tuple(
                "4" + part if isinstance(part, str) else "b" + base64.b64encode(part).decode()
                for part in self.parts
            )
        return self._polling


def prepare_message(parts: list[str | bytes] | tuple[str | bytes, ...]) -> PreparedMessage:
    """Frame Socket.IO packet parts as Engine.IO MESSAGE packets, once.

    Args:
        parts: The output of ``proto.socketio.encode``: the text packet first, then
            its binary attachments.
    """
    if len(parts) == 1 and isinstance(parts[0], str):
        text = parts[0]
        return PreparedMessage(parts=(text,), ws=build_frame(OPCODE_TEXT, ("4" + text).encode()))
    frames = [
        build_frame(OPCODE_TEXT, ("4" + part).encode())
        if isinstance(part, str)
        else build_frame(OPCODE_BINARY, bytes(part))
        for part in parts
    ]
    return PreparedMessage(parts=tuple(parts), ws=b"".join(frames))
