"""A server-side WebSocket connection: incoming frames via ``websockets``, outgoing ours.

The ``websockets`` library's sans-I/O ``Protocol`` parses incoming frames, answers
pings and runs the closing handshake; we keep it because fragmentation, control frames,
UTF-8 and close-code rules are exactly what it already does well. But most of what a
client ever sends is small, whole, masked data frames (a PONG every 25 s on an idle
connection), and for those the generator-based parser costs more than everything else
the message does, and weighs about a kilobyte per connection. So those frames are cut
and unmasked here, and the ``websockets`` parser is made only when a connection first
sends anything else (a fragment, a control frame, a frame over 64 KiB) or is closed;
from then on it reads the whole stream.

Outgoing data frames bypass it: they are built once per message by
:mod:`baatcheet.engine.frames` and written straight to the transport, so a
broadcast costs one ``write`` per recipient and no copy.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol as FrameProtocol
from websockets.protocol import Side, State
from websockets.server import ServerProtocol
from websockets.speedups import apply_mask

from baatcheet.engine.frames import OPCODE_BINARY, OPCODE_TEXT, PreparedMessage, build_frame

__all__ = ["CloseHandler", "MessageHandler", "WebSocketConnection", "WebSocketLike"]

log = logging.getLogger(__name__)

MessageHandler = Callable[[str | bytes], None]
"""Called with each complete message: ``str`` for text, ``bytes`` for binary."""
CloseHandler = Callable[[int, str], None]
"""Called once when the connection is gone, with the close code and reason."""

_CLOSE_GRACE_S: Final = 2.0
_PARSE_SLICE_BYTES: Final = 16 * 1024
_READ_UNTIL_CLOSED: Final = frozenset({CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY})
"""Close codes after which the peer's closing frame is still awaited (read)."""
_FIN_TEXT: Final = 0x81
_WHOLE_DATA: Final = frozenset({_FIN_TEXT, 0x82})
"""First bytes of a whole text or binary frame with no reserved bit (RFC 6455 §5.2)."""
_MASKED: Final = 0x80
_ASCII_END: Final = 0x80
_ASCII: Final = tuple(chr(code) for code in range(_ASCII_END))
"""One-character strings by code: a one-byte text payload is valid UTF-8 only below 0x80."""
_LENGTH_16: Final = 126
_LENGTH_64: Final = 127
_ACCEPT_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""Appended to the client's key to make ``Sec-WebSocket-Accept`` (RFC 6455 §4.2.2)."""
_SWITCHING: Final = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: "
)


class WebSocketLike(Protocol):
    """What an Engine.IO session needs from a WebSocket, native or ASGI-hosted."""

    on_message: MessageHandler
    on_close: CloseHandler

    def send_prepared(self, message: PreparedMessage) -> None:
        """Send a prepared message (every part of it)."""

    def send_text(self, text: str) -> None:
        """Send one text message."""

    def send_binary(self, data: bytes) -> None:
        """Send one binary message."""

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start closing; ``on_close`` runs once."""

    def buffered_bytes(self) -> int:
        """Bytes accepted but not yet handed to the network: the slow-consumer signal."""

    def abort(self, reason: str) -> None:
        """Drop the connection at once, without a closing handshake."""

    def pause_reading(self) -> None:
        """Stop reading from the peer (inbound backpressure)."""

    def resume_reading(self) -> None:
        """Read from the peer again."""


class WebSocketConnection:
    """One open WebSocket on an asyncio transport.

    The HTTP layer creates it after parsing the upgrade request, calls
    :meth:`accept` (which writes the 101 response), then feeds every further byte
    to :meth:`receive`. The owner sets :attr:`on_message` and :attr:`on_close`.
    """

    __slots__ = (
        "_answer",
        "_closed",
        "_fragment_opcode",
        "_fragments",
        "_max_size",
        "_partial",
        "_protocol",
        "on_close",
        "on_message",
        "transport",
    )

    def __init__(self, transport: asyncio.Transport, max_message_size: int) -> None:
        self.transport = transport
        self._max_size = max_message_size
        self._protocol: FrameProtocol | None = None
        """The ``websockets`` parser, once the stream needs it (see the module docstring)."""
        self._partial = b""
        """The start of a frame whose rest has not arrived yet (before the parser exists)."""
        self._fragments: list[bytes] | None = None
        self._fragment_opcode = Opcode.TEXT
        self._closed = False
        self._answer = b""
        """The 101 answer while it is held for the first frame (see :meth:`accept`)."""
        self.on_message: MessageHandler = _ignore_message
        self.on_close: CloseHandler = _ignore_close

    def accept(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[bytes, bytes]],
        *,
        hold: bool = False,
    ) -> bool:
        """Answer the upgrade request; False when the handshake was invalid (a 4xx went out).

        With ``hold`` the 101 answer waits for the first frame written in this loop turn
        and goes out in the same ``write`` (the caller then calls :meth:`release_answer`
        at the end of the turn): Engine.IO's OPEN packet follows the 101 at once, and
        one write instead of two is one system call and one segment less per connection,
        on both ends, in a reconnect storm.

        ``headers`` are the request's, names in lower case. The request every client sends
        (a GET, one key, version 13, no extension or subprotocol asked) is answered here
        with a fixed 101: in a reconnect storm the opening handshake is a large share of
        the work per connection, and the ``websockets`` handshake builds header maps, a
        request and a response object (and formats a Date header) for each. Anything else
        (an extension or subprotocol offered, a header missing, repeated or wrong) goes to
        that handshake, which answers it, or refuses it, as it always has.
        """
        key = _plain_upgrade_key(method, headers)
        if key is not None:
            digest = hashlib.sha1(key + _ACCEPT_GUID, usedforsecurity=False).digest()
            answer = _SWITCHING + base64.b64encode(digest) + b"\r\n\r\n"
            if hold:
                self._answer = answer
            else:
                self.transport.write(answer)
            return True
        return self._accept_checked(target, headers)

    def _accept_checked(self, target: str, headers: Sequence[tuple[bytes, bytes]]) -> bool:
        """The opening handshake by ``websockets``, on a throw-away ``ServerProtocol``.

        Frames are then parsed by a plain server-side ``Protocol``. Keeping the handshake
        protocol would keep the parsed request (headers and all) alive for the
        connection's lifetime: a few kilobytes per idle connection.
        """
        request_headers = Headers()
        for name, value in headers:
            request_headers[name.decode("latin-1")] = value.decode("latin-1")
        handshake = ServerProtocol()
        handshake.send_response(handshake.accept(Request(path=target, headers=request_headers)))
        for chunk in handshake.data_to_send():
            if chunk:
                self.transport.write(chunk)
        if handshake.state is not State.OPEN:
            self.transport.close()
            self._closed = True
            return False
        return True

    def release_answer(self) -> None:
        """Write the held 101 answer, unless a frame has already carried it."""
        answer = self._answer
        if answer:
            self._answer = b""
            self.transport.write(answer)

    def buffered_bytes(self) -> int:
        """Bytes queued in the transport's write buffer: the slow-consumer signal."""
        return self.transport.get_write_buffer_size()

    def send_prepared(self, message: PreparedMessage) -> None:
        """Write a message framed once for every recipient: the broadcast fast path."""
        self.write_frames(message.ws)

    def write_frames(self, frames: bytes) -> None:
        """Write already-built frames (after the held 101 answer, if any)."""
        if self._closed:
            return
        answer = self._answer
        if answer:
            self._answer = b""
            frames = answer + frames
        self.transport.write(frames)

    def send_text(self, text: str) -> None:
        """Frame and send one text message."""
        self.write_frames(build_frame(OPCODE_TEXT, text.encode()))

    def send_binary(self, data: bytes) -> None:
        """Frame and send one binary message."""
        self.write_frames(build_frame(OPCODE_BINARY, data))

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Send a close frame; for a normal close, wait for the peer's answer first.

        After a normal or going-away close the transport is closed once the peer answers,
        or after a short grace period. A peer closed for misbehaving (a flood, a parse
        error, a policy) is *failed* (RFC 6455 §7.1.7): the close frame is flushed and the
        TCP connection closed at once, so nothing more of what it sends is read or parsed.
        """
        if self._closed:
            return
        self.release_answer()
        with contextlib.suppress(InvalidState):
            self._parser().send_close(code, reason[:120])
        self._flush()
        self._closed = True
        if code in _READ_UNTIL_CLOSED:
            asyncio.get_running_loop().call_later(_CLOSE_GRACE_S, self.transport.close)
        else:
            self.transport.close()
        self._notify_close(code, reason)

    def abort(self, reason: str) -> None:
        """Drop the connection now: a close frame cannot get past a full buffer anyway."""
        self._closed = True
        self.transport.abort()
        self._notify_close(CloseCode.POLICY_VIOLATION, reason)

    def pause_reading(self) -> None:
        """Stop reading: TCP flow control then slows the peer down."""
        if not self._closed and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again after :meth:`pause_reading`."""
        if not self._closed and not self.transport.is_closing():
            self.transport.resume_reading()

    def receive(self, data: bytes) -> None:
        """Feed bytes read from the transport; dispatches complete messages.

        Whole small data frames are taken here; the first frame of any other kind hands
        the stream, from that frame on, to the ``websockets`` parser for good. Once a
        frame gets the connection closed (a flood over the rate limit), the rest of the
        read is dropped instead of parsed.
        """
        if self._protocol is not None:
            self._receive_parsed(data)
            return
        if self._partial:
            data = self._partial + data
            self._partial = b""
        end = len(data)
        pos = 0
        while pos < end:
            if end - pos < 2:
                self._partial = data[pos:]
                return
            first = data[pos]
            second = data[pos + 1]
            marker = length = second & 0x7F
            head = pos + 6
            if marker == _LENGTH_16:
                if end - pos < 4:
                    self._partial = data[pos:]
                    return
                length = int.from_bytes(data[pos + 2 : pos + 4])
                head = pos + 8
            if (
                first not in _WHOLE_DATA
                or not second & _MASKED
                or marker == _LENGTH_64
                or length > self._max_size
            ):
                self._receive_parsed(data[pos:])
                return
            stop = head + length
            if stop > end:
                self._partial = data[pos:]
                return
            pos = stop
            if length == 1 and first == _FIN_TEXT:
                # A one-character text message: every PONG of every idle connection.
                char = data[head] ^ data[head - 4]
                if char >= _ASCII_END:
                    self.close(CloseCode.INVALID_DATA, "invalid UTF-8 in text frame")
                    return
                self.on_message(_ASCII[char])
                if self._closed:
                    return
                continue
            payload = apply_mask(data[head:stop], data[head - 4 : head])
            if first == _FIN_TEXT:
                try:
                    text = payload.decode()
                except UnicodeDecodeError:
                    self.close(CloseCode.INVALID_DATA, "invalid UTF-8 in text frame")
                    return
                self.on_message(text)
            else:
                self.on_message(payload)
            if self._closed:
                return

    def _parser(self) -> FrameProtocol:
        protocol = self._protocol
        if protocol is None:
            protocol = FrameProtocol(Side.SERVER, state=State.OPEN, max_size=self._max_size)
            self._protocol = protocol
        return protocol

    def _receive_parsed(self, data: bytes) -> None:
        """Feed the ``websockets`` parser, a slice at a time (see :meth:`receive`)."""
        protocol = self._parser()
        for start in range(0, len(data), _PARSE_SLICE_BYTES):
            protocol.receive_data(data[start : start + _PARSE_SLICE_BYTES])
            for event in protocol.events_received():
                if isinstance(event, Frame):
                    self._on_frame(event)
            self._flush()
            if protocol.close_rcvd is not None or protocol.parser_exc is not None:
                self._on_peer_close()
                return
            if self._closed:
                return

    def connection_lost(self) -> None:
        """The transport is gone (EOF or error)."""
        protocol = self._protocol
        if protocol is not None and protocol.state is not State.CLOSED:
            protocol.receive_eof()
        self._notify_close(CloseCode.ABNORMAL_CLOSURE, "transport closed")

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        payload = bytes(frame.data)
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._deliver(opcode, payload)
            else:
                self._fragments = [payload]
                self._fragment_opcode = opcode
        elif opcode is Opcode.CONT and self._fragments is not None:
            self._fragments.append(payload)
            if frame.fin:
                data = b"".join(self._fragments)
                self._fragments = None
                self._deliver(self._fragment_opcode, data)

    def _deliver(self, opcode: Opcode, data: bytes) -> None:
        if opcode is Opcode.TEXT:
            try:
                text = data.decode()
            except UnicodeDecodeError:
                self.close(CloseCode.INVALID_DATA, "invalid UTF-8 in text frame")
                return
            self.on_message(text)
        else:
            self.on_message(data)

    def _on_peer_close(self) -> None:
        protocol = self._parser()
        received: Close | None = protocol.close_rcvd
        if protocol.parser_exc is not None and protocol.close_sent is not None:
            code, reason = protocol.close_sent.code, protocol.close_sent.reason
        elif received is not None:
            code, reason = received.code, received.reason
        else:
            code, reason = CloseCode.ABNORMAL_CLOSURE, "transport closed"
        self._closed = True
        self.transport.close()
        self._notify_close(code, reason)

    def _notify_close(self, code: int, reason: str) -> None:
        handler = self.on_close
        if handler is _ignore_close:
            return
        self.on_close = _ignore_close
        self.on_message = _ignore_message
        handler(code, reason)

    def _flush(self) -> None:
        protocol = self._protocol
        if protocol is None:
            return
        for chunk in protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif not self.transport.is_closing():
                self.transport.close()


def _ignore_message(data: str | bytes) -> None:
    del data


def _ignore_close(code: int, reason: str) -> None:
    del code, reason


def _plain_upgrade_key(method: str, headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
    """The ``Sec-WebSocket-Key`` of a plain, valid upgrade request (RFC 6455 §4.2.1), else None.

    Plain: a GET with one ``Upgrade: websocket``, ``upgrade`` among the ``Connection``
    options, exactly one key of 16 bytes and one ``Sec-WebSocket-Version: 13``, and no
    extension or subprotocol offered (those need negotiating). None sends the request to
    the full ``websockets`` handshake, which also words the refusals.
    """
    if method != "GET":
        return None
    key = b""
    keys = versions = upgrades = 0
    connection_upgrade = False
    for name, value in headers:
        if name == b"sec-websocket-key":
            keys += 1
            key = value.strip()
        elif name == b"sec-websocket-version":
            versions += 1
            if value.strip() != b"13":
                return None
        elif name == b"upgrade":
            upgrades += 1
            if value.strip().lower() != b"websocket":
                return None
        elif name == b"connection":
            if any(option.strip().lower() == b"upgrade" for option in value.split(b",")):
                connection_upgrade = True
        elif name in (b"sec-websocket-extensions", b"sec-websocket-protocol"):
            return None
    if keys != 1 or versions != 1 or upgrades != 1 or not connection_upgrade:
        return None
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except binascii.Error:
        return None
    return key
