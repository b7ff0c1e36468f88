"""One Engine.IO session: a logical connection that outlives a transport upgrade.

The decisions — heartbeat, polling queue, upgrade probe, how to end — are made by the
sans-I/O :class:`~baatcheet.proto.engineio_session.ServerSession`; this module drives it
with real transports and the loop's clock, and owns what only I/O has: the WebSocket, the
held long-poll GET and POST, write backpressure and the slow-consumer policy. The layer
above sees only ``on_message`` and ``on_close`` through :class:`SessionHandler`.

Idle sessions cost no task and no timer of their own: every session's next heartbeat
deadline sits in the server's one :class:`DeadlineQueue`, and a PING to a native
WebSocket is a single write of a frame encoded once for the whole process.
"""

from __future__ import annotations

import asyncio
import logging
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from baatcheet._types import EngineSid
from baatcheet.engine.coalesce import WriteCoalescer
from baatcheet.engine.deadlines import DeadlineQueue
from baatcheet.engine.frames import OPCODE_TEXT, PreparedMessage, build_frame
from baatcheet.engine.http import HttpRequest, Responder
from baatcheet.engine.websocket import WebSocketConnection, WebSocketLike
from baatcheet.errors import ProtocolError
from baatcheet.logging_setup import connection_id
from baatcheet.proto.engineio import (
    EnginePacket,
    EnginePacketType,
    decode_polling_payload,
    decode_ws,
    encode_ws,
)
from baatcheet.proto.engineio_session import (
    CLOSE,
    NOOP,
    PING,
    PONG,
    PROBE_PONG,
    CloseReason,
    ProbeStep,
    ServerSession,
    Tick,
    TransportName,
)
from baatcheet.settings import Settings, SlowConsumerPolicy

if TYPE_CHECKING:
    from baatcheet.engine.observer import EngineObserver

__all__ = ["CloseReason", "EngineSession", "SessionHandler", "SessionTiming", "TransportName"]

log = logging.getLogger(__name__)

_NEVER: Final = float("inf")
_TEXT_HEADERS: Final = [(b"content-type", b"text/plain; charset=UTF-8")]
_OK_HEADERS: Final = [(b"content-type", b"text/html")]
_WS_CLOSE_GOING_AWAY: Final = 1001
_WS_CLOSE_POLICY: Final = 1008
_WS_CLOSE_TOO_BIG: Final = 1009
_PING_TEXT: Final = str(encode_ws(PING))
_PING_FRAME: Final = build_frame(OPCODE_TEXT, _PING_TEXT.encode())
"""Every PING to a native WebSocket is these same bytes."""
_PONG_TEXT: Final = str(encode_ws(PONG))
# Enum members read once (see baatcheet.proto.engineio_session): on_deadline runs for
# every ping of every idle connection.
_SEND_PING: Final = Tick.SEND_PING
_PING_TIMEOUT: Final = Tick.PING_TIMEOUT
_ABANDON_PROBE: Final = Tick.ABANDON_PROBE
_POLLING: Final = TransportName.POLLING
_WEBSOCKET: Final = TransportName.WEBSOCKET
_NOOP_BODY: Final = str(encode_ws(NOOP)).encode()
_MESSAGE_DIGIT: Final = str(int(EnginePacketType.MESSAGE))
_CLOSE_TEXT: Final = str(encode_ws(CLOSE))
_PROBE_PONG_TEXT: Final = str(encode_ws(PROBE_PONG))
_MESSAGE: Final = EnginePacketType.MESSAGE


class SessionHandler(Protocol):
    """What the layer above gets told about a session."""

    def on_message(self, data: str | bytes) -> None:
        """A MESSAGE packet arrived (text or binary)."""

    def on_close(self, reason: CloseReason) -> None:
        """The session is over; it will not deliver or accept anything again."""


def _nothing_buffered() -> int:
    return 0


class _NullHandler:
    __slots__ = ()

    def on_message(self, data: str | bytes) -> None:
        del data

    def on_close(self, reason: CloseReason) -> None:
        del reason


_NULL_HANDLER = _NullHandler()


@dataclass(frozen=True, slots=True)
class SessionTiming:
    """The numbers every session starts with, read from the settings once per server.

    ``Settings`` is a pydantic model: each attribute read goes through its ``__getattr__``
    hook, which costs more than the rest of a session's set-up line; in a reconnect storm
    that is paid thousands of times a second.
    """

    ping_interval: float
    ping_timeout: float
    upgrade_timeout: float
    write_buffer_high_bytes: int
    max_payload_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionTiming:
        """Seconds from the settings' milliseconds; byte limits as they are."""
        return cls(
            ping_interval=settings.ping_interval_ms / 1000,
            ping_timeout=settings.ping_timeout_ms / 1000,
            upgrade_timeout=settings.upgrade_timeout_ms / 1000,
            write_buffer_high_bytes=settings.write_buffer_high_bytes,
            max_payload_bytes=settings.max_payload_bytes,
        )


class EngineSession:
    """State of one client connection across transports."""

    __slots__ = (
        "_buffered",
        "_closed_callback",
        "_core",
        "_deadlines",
        "_held_post",
        "_high_water",
        "_observer",
        "_pending_get",
        "_probe",
        "_reading_paused",
        "_settings",
        "_write",
        "_writes",
        "closed",
        "deadline",
        "handler",
        "request",
        "sid",
        "ws",
    )

    def __init__(
        self,
        sid: EngineSid,
        request: HttpRequest,
        settings: Settings,
        closed_callback: Callable[[EngineSession], None],
        *,
        deadlines: DeadlineQueue,
        writes: WriteCoalescer,
        observer: EngineObserver,
        timing: SessionTiming,
    ) -> None:
        self.sid = sid
        self.request = request
        """The request that opened the session (headers, query, address)."""
        self.handler: SessionHandler = _NULL_HANDLER
        self.ws: WebSocketLike | None = None
        self.closed = False
        self._settings = settings
        self._closed_callback = closed_callback
        self._core = ServerSession(
            ping_interval=timing.ping_interval,
            ping_timeout=timing.ping_timeout,
            upgrade_timeout=timing.upgrade_timeout,
            transport=_POLLING,
        )
        self._pending_get: Responder | None = None
        self._held_post: Responder | None = None
        """A POST whose "ok" waits until reading resumes (polling backpressure)."""
        self._reading_paused = False
        self._probe: WebSocketLike | None = None
        self._deadlines = deadlines
        self._writes = writes
        self._high_water = timing.write_buffer_high_bytes
        self._write: Callable[[bytes], None] | None = None
        self._buffered: Callable[[], int] = _nothing_buffered
        self.deadline = _NEVER
        """The deadline this session last put in the queue (loop time)."""
        self._observer = observer

    @property
    def transport(self) -> TransportName:
        """The transport currently carrying the session."""
        return self._core.transport

    @property
    def farewell(self) -> bool:
        """Closed by shutdown between two polls: the next GET takes the queued messages,
        the one after it the CLOSE packet (then the server forgets the session)."""
        return self._core.farewell

    # -- lifecycle ---------------------------------------------------------------

    def start(self, handshake: str) -> None:
        """Send the OPEN packet (carrying the ``handshake`` JSON) and start the heartbeat."""
        open_packet = self._core.open(handshake, asyncio.get_running_loop().time())
        ws = self.ws
        if ws is not None:
            ws.send_text(open_packet)
        else:
            self._core.enqueue((open_packet,))
        self._schedule()

    def attach_websocket(self, ws: WebSocketLike) -> None:
        """Use ``ws`` as the session's transport from the start (no polling)."""
        self.ws = ws
        self._core.transport = _WEBSOCKET
        ws.on_message = self._on_ws_message
        ws.on_close = self._on_ws_close
        if self._reading_paused:
            ws.pause_reading()
        if isinstance(ws, WebSocketConnection):
            self._write = ws.transport.write
            self._buffered = ws.transport.get_write_buffer_size

    def close(self, reason: CloseReason = CloseReason.FORCED_CLOSE) -> None:
        """End the session: tell the client (CLOSE packet) and the handler."""
        if self.closed:
            return
        if self._core.close(reason, poll_held=self._pending_get is not None):
            ws = self.ws
            if ws is not None:
                ws.send_text(_CLOSE_TEXT)
            else:
                self._flush_poll()
        self._terminate(reason)

    def _terminate(self, reason: CloseReason) -> None:
        if self.closed:
            return
        self.closed = True
        core = self._core
        core.end()
        self._write = None
        self.deadline = _NEVER
        probe = self._probe
        if probe is not None:
            self._probe = None
            probe.close(_WS_CLOSE_GOING_AWAY, str(reason))
        ws = self.ws
        if ws is not None and reason is CloseReason.SLOW_CONSUMER:
            ws.abort(str(reason))
        elif ws is not None:
            ws.close(core.websocket_close_code(reason), str(reason))
        pending = self._pending_get
        if pending is not None:
            self._pending_get = None
            if not pending.answered:
                pending.respond(200, _TEXT_HEADERS, core.final_poll_answer(reason).encode())
        if not core.farewell:
            core.take_payload()
        held = self._held_post
        if held is not None:
            self._held_post = None
            held.on_abort(None)
            held.respond(200, _OK_HEADERS, b"ok")
        handler = self.handler
        self.handler = _NULL_HANDLER
        self._closed_callback(self)
        self._observer.session_closed(self.transport, reason)
        handler.on_close(reason)

    # -- sending -----------------------------------------------------------------

    def send_prepared(self, message: PreparedMessage, volatile: bool = False) -> bool:
        """Send a prepared MESSAGE; False if it was dropped (volatile or session closed).

        This is the broadcast fast path: on a native WebSocket it is one call to the
        transport's buffer size and one ``transport.write`` of bytes shared with every
        other recipient, with no Python call in between — or, while the server's
        :class:`WriteCoalescer` holds, one append to this session's held frames.
        """
        if self.closed:
            return False
        write = self._write
        if write is not None:
            buffered = self._buffered()
            if buffered > self._high_water and not self._may_queue(buffered, volatile):
                return False
            if self._writes.held is None:
                write(message.ws)
            else:
                self._writes.add(self, message.ws)
            return True
        ws = self.ws
        if ws is not None:
            buffered = ws.buffered_bytes()
            if buffered > self._high_water and not self._may_queue(buffered, volatile):
                return False
            ws.send_prepared(message)
            return True
        if volatile and self._pending_get is None:
            return False
        core = self._core
        if core.queued_chars > self._high_water and not self._may_queue(
            core.queued_chars, volatile
        ):
            return False
        core.enqueue(message.polling)
        self._flush_poll()
        return True

    def write_held(self, frames: list[bytes]) -> None:
        """Write frames the coalescer held for this session, in one call.

        A session that closed meanwhile has already sent its close frame; what was held
        for it is dropped, as a direct write after the close would have been.
        """
        write = self._write
        if write is not None:
            write(frames[0] if len(frames) == 1 else b"".join(frames))

    def _may_queue(self, buffered: int, volatile: bool) -> bool:
        """Apply the slow-consumer policy; True if the packet may still be written."""
        settings = self._settings
        if (
            settings.slow_consumer_policy is SlowConsumerPolicy.DISCONNECT
            or buffered > settings.write_buffer_max_bytes
        ):
            log.info("closing slow consumer %s (%d bytes buffered)", self.sid, buffered)
            # Deferred: we may be inside a broadcast loop over the room indexes, which
            # closing the session would change.
            asyncio.get_running_loop().call_soon(self._terminate, CloseReason.SLOW_CONSUMER)
            return False
        return not volatile

    def _flush_poll(self) -> None:
        pending = self._pending_get
        if pending is None or not self._core.queued:
            return
        self._pending_get = None
        pending.on_abort(None)
        pending.respond(200, _TEXT_HEADERS, self._core.take_payload().encode())

    # -- heartbeat -----------------------------------------------------------------

    def _schedule(self) -> None:
        deadline = self._core.deadline
        if deadline != self.deadline:
            self.deadline = deadline
            self._deadlines.push(deadline, self)

    def on_deadline(self, now: float) -> None:
        """The session's deadline passed: ping, close for ``ping timeout``, or drop a probe."""
        if self.closed:
            return
        self.deadline = _NEVER  # this entry is consumed; _schedule must push the next one
        step = self._core.tick(now)
        if step is _SEND_PING:
            write = self._write
            if write is not None:
                write(_PING_FRAME)
            elif self.ws is not None:
                self.ws.send_text(_PING_TEXT)
            else:
                self._core.enqueue_ping()
                self._flush_poll()
        elif step is _PING_TIMEOUT:
            self._terminate(CloseReason.PING_TIMEOUT)
            return
        elif step is _ABANDON_PROBE:
            self._close_probe("upgrade timed out")
        self._schedule()

    # -- receiving -----------------------------------------------------------------

    def _on_packet(self, packet: EnginePacket) -> None:
        """Handle one client packet (raises ProtocolError for one a client never sends)."""
        if packet.type is _MESSAGE:
            self.handler.on_message(packet.data)
            return
        ending = self._core.receive(packet, asyncio.get_running_loop().time())
        if ending is not None:
            self._terminate(ending)
        else:
            self._schedule()

    def _on_ws_message(self, data: str | bytes) -> None:
        if data == _PONG_TEXT:
            # The heartbeat's half of all traffic on an idle server: no context, no packet.
            self._core.pong(asyncio.get_running_loop().time())
            self._schedule()
            return
        # Lines logged while a message is handled, and the tasks it starts, name this
        # session (see baatcheet.logging_setup); likewise for a POST's packets below.
        named = connection_id.set(self.sid)
        try:
            if isinstance(data, str) and data and data[0] == _MESSAGE_DIGIT:
                self.handler.on_message(data[1:])
                return
            try:
                self._on_packet(decode_ws(data))
            except ProtocolError as exc:
                log.info("session %s sent a bad packet: %s", self.sid, exc)
                self._terminate(CloseReason.PARSE_ERROR)
        finally:
            connection_id.reset(named)

    def _on_ws_close(self, code: int, reason: str) -> None:
        if code == _WS_CLOSE_TOO_BIG:
            self._terminate(CloseReason.PAYLOAD_TOO_LARGE)
        elif code in (1000, 1001, 1005):
            self._terminate(CloseReason.TRANSPORT_CLOSE)
        elif code in (1002, 1007):
            self._terminate(CloseReason.PARSE_ERROR)
        else:
            self._terminate(CloseReason.TRANSPORT_CLOSE if reason else CloseReason.TRANSPORT_ERROR)

    # -- long-polling ----------------------------------------------------------------

    def handle_poll_get(self, responder: Responder) -> None:
        """A long-poll GET: answer now if packets are queued, else hold it."""
        core = self._core
        if core.farewell:
            body, last = core.farewell_poll()
            if last:
                self._closed_callback(self)
            responder.respond(200, _TEXT_HEADERS, body.encode())
            return
        if self.ws is not None:
            responder.respond(400, _TEXT_HEADERS, b"transport already upgraded")
            return
        if self._pending_get is not None:
            responder.respond(400, _TEXT_HEADERS, b"overlapping GET requests")
            self._terminate(CloseReason.TRANSPORT_ERROR)
            return
        self._pending_get = responder
        responder.on_abort(self._on_get_aborted)
        core.poll_arrived()
        self._flush_poll()

    def _on_get_aborted(self) -> None:
        self._pending_get = None
        self._terminate(CloseReason.TRANSPORT_CLOSE)

    def handle_poll_post(self, body: bytes, responder: Responder) -> None:
        """A long-poll POST carrying client packets."""
        # On a refusal the session ends first, so the held GET carries the CLOSE to the
        # client before the POST's error status can reach it as a transport error.
        if len(body) > self._settings.max_payload_bytes:
            self.refuse_oversized(responder)
            return
        try:
            packets = decode_polling_payload(body.decode())
        except (ProtocolError, UnicodeDecodeError) as exc:
            log.info("session %s posted a bad payload: %s", self.sid, exc)
            self._terminate(CloseReason.PARSE_ERROR)
            responder.respond(400, _TEXT_HEADERS, b"bad payload")
            return
        if self._held_post is not None:
            responder.respond(400, _TEXT_HEADERS, b"overlapping POST requests")
            self._terminate(CloseReason.TRANSPORT_ERROR)
            return
        named = connection_id.set(self.sid)
        try:
            for packet in packets:
                if self.closed:
                    break
                self._on_packet(packet)
        except ProtocolError as exc:
            log.info("session %s sent a bad packet: %s", self.sid, exc)
            self._terminate(CloseReason.PARSE_ERROR)
        finally:
            connection_id.reset(named)
        if self._reading_paused and not self.closed:
            # Backpressure: the client sends its next POST only after this "ok".
            self._held_post = responder
            responder.on_abort(self._on_post_aborted)
            return
        responder.respond(200, _OK_HEADERS, b"ok")

    def refuse_oversized(self, responder: Responder) -> None:
        """A POST over ``max_payload_bytes``: 413, and the session ends.

        Node's engine.io answers 413 and keeps the session, but then the client cannot
        know which of the packets it batched were lost; ending the session makes the loss
        visible (the client reconnects), as an oversized WebSocket message does (1009).
        """
        self._terminate(CloseReason.PAYLOAD_TOO_LARGE)
        responder.respond(413, _TEXT_HEADERS, b"payload too large")

    def _on_post_aborted(self) -> None:
        self._held_post = None
        self._terminate(CloseReason.TRANSPORT_CLOSE)

    # -- inbound backpressure --------------------------------------------------------

    def pause_reading(self) -> None:
        """Stop taking packets from the client until :meth:`resume_reading`.

        On a WebSocket the transport stops reading, so TCP flow control pushes back on
        the client; on polling the current POST's answer is held back.
        """
        self._reading_paused = True
        ws = self.ws
        if ws is not None:
            ws.pause_reading()

    def resume_reading(self) -> None:
        """Take packets again (and answer a POST held by :meth:`pause_reading`)."""
        self._reading_paused = False
        ws = self.ws
        if ws is not None:
            ws.resume_reading()
        held = self._held_post
        if held is not None:
            self._held_post = None
            held.on_abort(None)
            held.respond(200, _OK_HEADERS, b"ok")

    # -- upgrade ---------------------------------------------------------------------

    def begin_upgrade(self, ws: WebSocketLike) -> bool:
        """A WebSocket arrived for this polling session; False if it may not upgrade."""
        if self.closed or not self._core.begin_probe(asyncio.get_running_loop().time()):
            return False
        self._probe = ws
        ws.on_message = self._on_probe_message
        ws.on_close = self._on_probe_close
        self._schedule()
        return True

    def _on_probe_message(self, data: str | bytes) -> None:
        probe = self._probe
        if probe is None:
            return
        step = self._core.probe_receive(data)
        if step is ProbeStep.ANSWER:
            probe.send_text(_PROBE_PONG_TEXT)
            self._flush_poll()
        elif step is ProbeStep.UPGRADE:
            self._finish_upgrade(probe)
        else:
            self._close_probe("unexpected packet during upgrade")
            self._schedule()

    def _finish_upgrade(self, ws: WebSocketLike) -> None:
        self._probe = None
        backlog = self._core.take_upgrade_backlog()
        pending = self._pending_get
        if pending is not None:
            self._pending_get = None
            pending.on_abort(None)
            pending.respond(200, _TEXT_HEADERS, _NOOP_BODY)
        self.attach_websocket(ws)
        self._observer.upgraded()
        for item in backlog:
            if item[0] == "b":
                ws.send_binary(b64decode(item[1:]))
            else:
                ws.send_text(item)
        self._schedule()

    def _close_probe(self, why: str) -> None:
        probe = self._probe
        self._probe = None
        if probe is not None:
            probe.close(_WS_CLOSE_POLICY, why)

    def _on_probe_close(self, code: int, reason: str) -> None:
        del code, reason
        if self._probe is not None:
            self._probe = None
            self._core.probe_gone()
            self._schedule()
