"""One Engine.IO session: a logical connection that outlives a transport upgrade.

A session starts on long-polling or directly on WebSocket. It owns the heartbeat
(the server pings, the client must pong in time), the polling queue, the upgrade
dance (``2probe``/``3probe``/noop/``5``), and the slow-consumer policy. The layer
above sees only ``on_message`` and ``on_close`` through :class:`SessionHandler`.
"""

from __future__ import annotations

import asyncio
import logging
from base64 import b64decode
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from baatcheet._types import EngineSid
from baatcheet.engine.coalesce import WriteCoalescer
from baatcheet.engine.deadlines import DeadlineQueue
from baatcheet.engine.frames import PreparedMessage
from baatcheet.engine.http import HttpRequest, Responder
from baatcheet.engine.websocket import WebSocketConnection, WebSocketLike
from baatcheet.errors import ProtocolError
from baatcheet.logging_setup import connection_id
from baatcheet.proto.engineio import (
    SEPARATOR,
    EnginePacket,
    EnginePacketType,
    decode_polling_payload,
    decode_ws,
)
from baatcheet.proto.heartbeat import Heartbeat
from baatcheet.settings import Settings, SlowConsumerPolicy

if TYPE_CHECKING:
    from baatcheet.engine.observer import EngineObserver

__all__ = ["CloseReason", "EngineSession", "SessionHandler", "TransportName"]

log = logging.getLogger(__name__)

_NEVER = float("inf")
_TEXT_HEADERS = [(b"content-type", b"text/plain; charset=UTF-8")]
_WS_CLOSE_GOING_AWAY = 1001
_WS_CLOSE_POLICY = 1008
_WS_CLOSE_TOO_BIG = 1009


class TransportName(StrEnum):
    """The two Engine.IO transports."""

    POLLING = "polling"
    WEBSOCKET = "websocket"


class CloseReason(StrEnum):
    """Why a session ended; the Socket.IO layer passes these on as disconnect reasons."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    PAYLOAD_TOO_LARGE = "payload too large"
    SLOW_CONSUMER = "slow consumer"
    FORCED_CLOSE = "forced close"
    RATE_LIMITED = "rate limited"
    SERVER_SHUTDOWN = "server shutting down"


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


class EngineSession:
    """State of one client connection across transports."""

    __slots__ = (
        "_buffered",
        "_closed_callback",
        "_deadlines",
        "_heartbeat",
        "_held_post",
        "_high_water",
        "_observer",
        "_pending_get",
        "_poll_bytes",
        "_poll_queue",
        "_probe",
        "_probe_confirmed",
        "_reading_paused",
        "_settings",
        "_upgrade_timer",
        "_write",
        "_writes",
        "closed",
        "deadline",
        "farewell",
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
    ) -> None:
        self.sid = sid
        self.request = request
        """The request that opened the session (headers, query, address)."""
        self.handler: SessionHandler = _NULL_HANDLER
        self.ws: WebSocketLike | None = None
        self.closed = False
        self._settings = settings
        self._closed_callback = closed_callback
        self._poll_queue: list[str] = []
        self._poll_bytes = 0
        """Characters in ``_poll_queue``: the polling side of the slow-consumer bound."""
        self._pending_get: Responder | None = None
        self._held_post: Responder | None = None
        """A POST whose "ok" waits until reading resumes (polling backpressure)."""
        self._reading_paused = False
        self.farewell = False
        """Closed by shutdown between two polls: the next GET takes the queued messages,
        the one after it the CLOSE packet (then the server forgets the session)."""
        self._probe: WebSocketLike | None = None
        self._probe_confirmed = False
        self._heartbeat = Heartbeat(
            ping_interval=settings.ping_interval_ms / 1000,
            ping_timeout=settings.ping_timeout_ms / 1000,
        )
        self._deadlines = deadlines
        self._writes = writes
        self._high_water = settings.write_buffer_high_bytes
        self._write: Callable[[bytes], None] | None = None
        self._buffered: Callable[[], int] = _nothing_buffered
        self.deadline = _NEVER
        """When the heartbeat must next be looked at (loop time)."""
        self._upgrade_timer: asyncio.TimerHandle | None = None
        self._observer = observer

    @property
    def transport(self) -> TransportName:
        """The transport currently carrying the session."""
        return TransportName.WEBSOCKET if self.ws is not None else TransportName.POLLING

    # -- lifecycle ---------------------------------------------------------------

    def start(self, open_packet: str) -> None:
        """Send the OPEN packet and start the heartbeat."""
        self._send_control(open_packet)
        loop = asyncio.get_running_loop()
        self._heartbeat.start(loop.time())
        self._schedule()

    def attach_websocket(self, ws: WebSocketLike) -> None:
        """Use ``ws`` as the session's transport from the start (no polling)."""
        self.ws = ws
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
        if (
            reason is CloseReason.SERVER_SHUTDOWN
            and self.ws is None
            and self._pending_get is None
            and self._poll_queue
        ):
            # Between two polls with messages queued: the next GET takes the messages and
            # the one after it the CLOSE, as Node's engine.io does (the official client
            # drops messages that arrive in the same payload as the CLOSE).
            self.farewell = True
        elif reason in (
            CloseReason.FORCED_CLOSE,
            CloseReason.SERVER_SHUTDOWN,
            CloseReason.RATE_LIMITED,
        ):
            self._send_control("1")
        self._terminate(reason)

    def _terminate(self, reason: CloseReason) -> None:
        if self.closed:
            return
        self.closed = True
        self._write = None
        self.deadline = _NEVER
        if self._upgrade_timer is not None:
            self._upgrade_timer.cancel()
        if self._probe is not None:
            self._probe.close(_WS_CLOSE_GOING_AWAY, str(reason))
            self._probe = None
        ws = self.ws
        if ws is not None and reason is CloseReason.SLOW_CONSUMER:
            ws.abort(str(reason))
        elif ws is not None:
            code = {
                CloseReason.PAYLOAD_TOO_LARGE: _WS_CLOSE_TOO_BIG,
                CloseReason.PARSE_ERROR: _WS_CLOSE_POLICY,
                CloseReason.SLOW_CONSUMER: _WS_CLOSE_POLICY,
                CloseReason.RATE_LIMITED: _WS_CLOSE_POLICY,
            }.get(reason, 1000 if reason is not CloseReason.SERVER_SHUTDOWN else 1001)
            ws.close(code, str(reason))
        pending = self._pending_get
        if pending is not None:
            self._pending_get = None
            if not pending.answered:
                # The held poll must say the session is over, as Node's engine.io does:
                # NOOP when the client itself sent CLOSE, CLOSE for any other ending.
                self._poll_queue.append("6" if reason is CloseReason.TRANSPORT_CLOSE else "1")
                pending.respond(200, _TEXT_HEADERS, self._drain_queue().encode())
        if not self.farewell:
            self._drain_queue()
        held = self._held_post
        if held is not None:
            self._held_post = None
            held.on_abort(None)
            held.respond(200, [(b"content-type", b"text/html")], b"ok")
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
            if buffered > self._settings.write_buffer_high_bytes and not self._may_queue(
                buffered, volatile
            ):
                return False
            ws.send_prepared(message)
            return True
        if volatile and self._pending_get is None:
            return False
        if self._poll_bytes > self._high_water and not self._may_queue(self._poll_bytes, volatile):
            return False
        self._enqueue(message.polling)
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

    def _send_control(self, packet: str) -> None:
        ws = self.ws
        if ws is not None:
            ws.send_text(packet)
        else:
            self._enqueue((packet,))
            self._flush_poll()

    def _enqueue(self, items: Iterable[str]) -> None:
        queue = self._poll_queue
        for item in items:
            queue.append(item)
            self._poll_bytes += len(item)

    def _drain_queue(self) -> str:
        payload = SEPARATOR.join(self._poll_queue)
        self._poll_queue.clear()
        self._poll_bytes = 0
        return payload

    def _flush_poll(self) -> None:
        pending = self._pending_get
        if pending is None or not self._poll_queue:
            return
        self._pending_get = None
        pending.on_abort(None)
        pending.respond(200, _TEXT_HEADERS, self._drain_queue().encode())

    # -- heartbeat -----------------------------------------------------------------

    def _schedule(self) -> None:
        deadline = self._heartbeat.next_deadline()
        if deadline != self.deadline:
            self.deadline = deadline
            self._deadlines.push(deadline, self)

    def on_deadline(self, now: float) -> None:
        """The heartbeat deadline passed: ping, or close for ``ping timeout``."""
        if self.closed:
            return
        self.deadline = _NEVER  # this entry is consumed; _schedule must push the next one
        heartbeat = self._heartbeat
        if heartbeat.timed_out(now):
            self._terminate(CloseReason.PING_TIMEOUT)
            return
        if heartbeat.ping_due(now):
            self._send_control("2")
            heartbeat.ping_sent(now)
        self._schedule()

    def _on_pong(self) -> None:
        self._heartbeat.pong_received(asyncio.get_running_loop().time())
        self._schedule()

    # -- receiving -----------------------------------------------------------------

    def _on_packet(self, packet: EnginePacket) -> None:
        kind = packet.type
        if kind is EnginePacketType.MESSAGE:
            self.handler.on_message(packet.data)
        elif kind is EnginePacketType.PONG:
            self._on_pong()
        elif kind is EnginePacketType.CLOSE:
            self._terminate(CloseReason.TRANSPORT_CLOSE)
        elif kind in (EnginePacketType.NOOP, EnginePacketType.UPGRADE):
            return
        else:
            raise ProtocolError(f"unexpected {kind.name} packet from the client")

    def _on_ws_message(self, data: str | bytes) -> None:
        # Lines logged while a message is handled, and the tasks it starts, name this
        # session (see baatcheet.logging_setup); likewise for a POST's packets below.
        named = connection_id.set(self.sid)
        try:
            if isinstance(data, str) and data and data[0] == "4":
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
        if self.farewell:
            if not self._poll_queue:
                self.farewell = False
                self._poll_queue.append("1")
                self._closed_callback(self)
            responder.respond(200, _TEXT_HEADERS, self._drain_queue().encode())
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
        if self._probe is not None and self._probe_confirmed and not self._poll_queue:
            # The client is pausing polling to switch to the probe; it can only finish once
            # this GET returns, so release it at once (a GET sent before the "3probe"
            # reached the client would otherwise be held until the next ping).
            self._poll_queue.append("6")
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
        responder.respond(200, [(b"content-type", b"text/html")], b"ok")

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
            held.respond(200, [(b"content-type", b"text/html")], b"ok")

    # -- upgrade ---------------------------------------------------------------------

    def begin_upgrade(self, ws: WebSocketLike) -> bool:
        """A WebSocket arrived for this polling session; False if it may not upgrade."""
        if self.ws is not None or self._probe is not None or self.closed:
            return False
        self._probe = ws
        self._probe_confirmed = False
        ws.on_message = self._on_probe_message
        ws.on_close = self._on_probe_close
        loop = asyncio.get_running_loop()
        self._upgrade_timer = loop.call_later(
            self._settings.upgrade_timeout_ms / 1000, self._on_upgrade_timeout
        )
        return True

    def _on_probe_message(self, data: str | bytes) -> None:
        probe = self._probe
        if probe is None:
            return
        if data == "2probe":
            probe.send_text("3probe")
            self._probe_confirmed = True
            self._poll_queue.append("6")
            self._flush_poll()
        elif data == "5":
            self._finish_upgrade(probe)
        else:
            self._abandon_probe("unexpected packet during upgrade")

    def _finish_upgrade(self, ws: WebSocketLike) -> None:
        if self._upgrade_timer is not None:
            self._upgrade_timer.cancel()
            self._upgrade_timer = None
        self._probe = None
        pending = self._pending_get
        if pending is not None:
            self._pending_get = None
            pending.on_abort(None)
            pending.respond(200, _TEXT_HEADERS, b"6")
        self.attach_websocket(ws)
        self._observer.upgraded()
        queued = self._poll_queue
        self._poll_queue = []
        self._poll_bytes = 0
        for item in queued:
            if item == "6":
                # A NOOP queued at probe time was only there to end a poll; the
                # WebSocket must not receive it.
                continue
            if item[0] == "b":
                ws.send_binary(b64decode(item[1:]))
            else:
                ws.send_text(item)

    def _abandon_probe(self, why: str) -> None:
        probe = self._probe
        self._probe = None
        if self._upgrade_timer is not None:
            self._upgrade_timer.cancel()
            self._upgrade_timer = None
        if probe is not None:
            probe.close(_WS_CLOSE_POLICY, why)

    def _on_probe_close(self, code: int, reason: str) -> None:
        del code, reason
        self._probe = None

    def _on_upgrade_timeout(self) -> None:
        self._upgrade_timer = None
        self._abandon_probe("upgrade timed out")
