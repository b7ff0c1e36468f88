"""The Engine.IO v4 server session as a state machine: packets and time in, decisions out.

What one session must do is decided here, with no socket, task or clock: the caller (the
engine's ``EngineSession``) feeds packets and the current time, then carries out what the
methods return — send a PING, deliver a MESSAGE, answer a probe, end the session with a
:class:`CloseReason`. The spec sections this follows (https://github.com/socketio/
engine.io-protocol): "Handshake", "Heartbeat", "Upgrade", and "HTTP long-polling" for the
queue that waits for the next GET.

Only control packets pass through the machine. A MESSAGE received on a WebSocket, and every
MESSAGE sent, goes straight between the transport and the layer above: the broadcast path
must not pay a call per recipient for bookkeeping that has nothing to decide.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Final

from baatcheet.errors import ProtocolError
from baatcheet.proto.engineio import SEPARATOR, EnginePacket, EnginePacketType, encode_ws
from baatcheet.proto.heartbeat import Heartbeat

__all__ = [
    "CLOSE",
    "NOOP",
    "PING",
    "PONG",
    "PROBE_PING",
    "PROBE_PONG",
    "UPGRADE",
    "CloseReason",
    "Probe",
    "ProbeStep",
    "ServerSession",
    "Tick",
    "TransportName",
]

_NEVER: Final = float("inf")

PING: Final = EnginePacket(EnginePacketType.PING)
"""The server's heartbeat PING."""
PONG: Final = EnginePacket(EnginePacketType.PONG)
"""The client's answer to :data:`PING`."""
CLOSE: Final = EnginePacket(EnginePacketType.CLOSE)
"""Ends the session, from either side."""
NOOP: Final = EnginePacket(EnginePacketType.NOOP)
"""Ends a held long-poll with nothing in it (during an upgrade, or after a client CLOSE)."""
UPGRADE: Final = EnginePacket(EnginePacketType.UPGRADE)
"""Sent by the client on the probe WebSocket: from now on the session lives there."""
PROBE_PING: Final = EnginePacket(EnginePacketType.PING, "probe")
"""The client's first packet on a probe WebSocket (``2probe``)."""
PROBE_PONG: Final = EnginePacket(EnginePacketType.PONG, "probe")
"""The server's answer on the probe (``3probe``): the WebSocket works."""

_PING_TEXT: Final = str(encode_ws(PING))
_CLOSE_TEXT: Final = str(encode_ws(CLOSE))
_NOOP_TEXT: Final = str(encode_ws(NOOP))
_PROBE_PING_TEXT: Final = str(encode_ws(PROBE_PING))
_UPGRADE_TEXT: Final = str(encode_ws(UPGRADE))


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


_TELLS_CLIENT: Final = frozenset(
    {CloseReason.FORCED_CLOSE, CloseReason.SERVER_SHUTDOWN, CloseReason.RATE_LIMITED}
)
"""Endings the client learns of through a CLOSE packet (the others it caused or saw)."""
_IGNORED: Final = frozenset(
    {EnginePacketType.MESSAGE, EnginePacketType.NOOP, EnginePacketType.UPGRADE}
)
"""Client packets that need no decision here (MESSAGE is delivered by the caller)."""
_WS_CLOSE_CODES: Final = {
    CloseReason.PAYLOAD_TOO_LARGE: 1009,
    CloseReason.PARSE_ERROR: 1008,
    CloseReason.SLOW_CONSUMER: 1008,
    CloseReason.RATE_LIMITED: 1008,
    CloseReason.SERVER_SHUTDOWN: 1001,
}


class Tick(Enum):
    """What :meth:`ServerSession.tick` asks the caller to do."""

    NOTHING = "nothing"
    SEND_PING = "send ping"
    """Write :data:`PING` on the session's transport."""
    PING_TIMEOUT = "ping timeout"
    """End the session with :attr:`CloseReason.PING_TIMEOUT`."""
    ABANDON_PROBE = "abandon probe"
    """The upgrade took too long: close the probe WebSocket; the session stays on polling."""


class Probe(Enum):
    """Where an upgrade stands."""

    NONE = "none"
    PROBING = "probing"
    """A WebSocket arrived for this polling session; ``2probe`` not yet seen."""
    CONFIRMED = "confirmed"
    """``3probe`` answered; polling is winding down until the client sends UPGRADE."""


class ProbeStep(Enum):
    """What a packet on the probe WebSocket asks the caller to do."""

    ANSWER = "answer"
    """Send :data:`PROBE_PONG` on the probe, and flush the poll queue (a NOOP was queued)."""
    UPGRADE = "upgrade"
    """Move the session to the probe and send it :meth:`ServerSession.take_upgrade_backlog`."""
    ABANDON = "abandon"
    """The client misbehaved on the probe: close it; the session stays on polling."""


# Read once: on Python 3.11 a member looked up on its Enum class goes through the
# metaclass's __getattr__, and tick() runs on every ping of every idle connection.
_NOTHING: Final = Tick.NOTHING
_SEND_PING: Final = Tick.SEND_PING
_PING_TIMEOUT: Final = Tick.PING_TIMEOUT
_ABANDON_PROBE: Final = Tick.ABANDON_PROBE
_NO_PROBE: Final = Probe.NONE


class ServerSession:
    """The decisions of one server-side Engine.IO session.

    The caller owns the transports and the clock. It calls :meth:`open` at the handshake,
    :meth:`tick` once :attr:`deadline` has passed, :meth:`receive` with each control packet
    of the current transport, and :meth:`probe_receive` with each packet of a probe. Long-
    polling output waits in the queue (:meth:`enqueue`, :meth:`take_payload`) until a GET
    takes it. :meth:`close` records the end and says what the client is to be told.

    Args:
        ping_interval: Seconds between pings (``pingInterval`` / 1000).
        ping_timeout: Seconds the client has to answer (``pingTimeout`` / 1000).
        upgrade_timeout: Seconds a probe WebSocket may take to complete the upgrade.
        transport: The transport of the handshake.
    """

    __slots__ = (
        "_heartbeat",
        "_queue",
        "_upgrade_timeout",
        "_upgrade_until",
        "closed",
        "deadline",
        "farewell",
        "probe",
        "queued_chars",
        "transport",
    )

    def __init__(
        self,
        ping_interval: float,
        ping_timeout: float,
        upgrade_timeout: float,
        transport: TransportName,
    ) -> None:
        if not upgrade_timeout > 0:
            raise ValueError(f"upgrade_timeout must be positive, not {upgrade_timeout}")
        self._heartbeat = Heartbeat(ping_interval=ping_interval, ping_timeout=ping_timeout)
        self._upgrade_timeout = upgrade_timeout
        self._upgrade_until = _NEVER
        self._queue: list[str] = []
        self.queued_chars = 0
        """Characters waiting for the next GET: the polling side of the slow-consumer bound."""
        self.transport = transport
        self.probe = Probe.NONE
        self.closed = False
        self.farewell = False
        """Shut down between two polls with packets queued: the next GET takes them, the one
        after it the CLOSE packet (the official client drops messages that share a payload
        with a CLOSE)."""
        self.deadline = _NEVER
        """When :meth:`tick` next has something to decide (the caller's clock)."""

    # -- handshake and heartbeat --------------------------------------------------------

    def open(self, handshake: str, now: float) -> str:
        """Start the heartbeat; return the OPEN packet to send first, on the transport.

        On long-polling the caller queues it (:meth:`enqueue`) for the handshake GET.
        """
        self._heartbeat.start(now)
        self.deadline = self._heartbeat.next_deadline()
        return "0" + handshake

    def tick(self, now: float) -> Tick:
        """Decide what the passing of time calls for, and move :attr:`deadline` on.

        Call it at or after :attr:`deadline`; an early call returns ``NOTHING``. A
        session whose ping went unanswered is closed here (``PING_TIMEOUT``).
        """
        if self.closed:
            return _NOTHING
        heartbeat = self._heartbeat
        if now >= self._upgrade_until:
            self._upgrade_until = _NEVER
            self.probe = _NO_PROBE
            self._reschedule()
            return _ABANDON_PROBE
        if heartbeat.timed_out(now):
            self.deadline = _NEVER
            return _PING_TIMEOUT
        if heartbeat.ping_due(now):
            heartbeat.ping_sent(now)
            self._reschedule()
            return _SEND_PING
        self._reschedule()
        return _NOTHING

    def _reschedule(self) -> None:
        due = self._heartbeat.next_deadline()
        until = self._upgrade_until
        self.deadline = due if due < until else until

    # -- receiving --------------------------------------------------------------------

    def receive(self, packet: EnginePacket, now: float) -> CloseReason | None:
        """Take one packet of the current transport; return a reason if it ends the session.

        MESSAGE packets are the caller's to deliver (this only checks the rest). A PONG
        moves :attr:`deadline`; a CLOSE ends the session (``TRANSPORT_CLOSE``).

        Raises:
            ProtocolError: A packet a client never sends (OPEN, PING): close with
                ``PARSE_ERROR``.
        """
        kind = packet.type
        if kind is EnginePacketType.PONG:
            self.pong(now)
        elif kind is EnginePacketType.CLOSE:
            return CloseReason.TRANSPORT_CLOSE
        elif kind not in _IGNORED:
            raise ProtocolError(f"unexpected {kind.name} packet from the client")
        return None

    def pong(self, now: float) -> None:
        """The client answered a ping: the next ping is due one interval after the last."""
        self._heartbeat.pong_received(now)
        self._reschedule()

    # -- long-polling queue -------------------------------------------------------------

    @property
    def queued(self) -> bool:
        """Whether packets wait for the next GET."""
        return bool(self._queue)

    def enqueue(self, packets: tuple[str, ...] | list[str]) -> None:
        """Queue encoded polling packets (text, or ``b`` + base64) for the next GET."""
        queue = self._queue
        for packet in packets:
            queue.append(packet)
            self.queued_chars += len(packet)

    def enqueue_ping(self) -> None:
        """Queue :data:`PING` (the polling side of :attr:`Tick.SEND_PING`)."""
        self._queue.append(_PING_TEXT)
        self.queued_chars += 1

    def take_payload(self) -> str:
        """Empty the queue into one long-polling response body."""
        payload = SEPARATOR.join(self._queue)
        self._queue.clear()
        self.queued_chars = 0
        return payload

    def poll_arrived(self) -> None:
        """A GET is now held: during a confirmed upgrade, release it at once with a NOOP.

        The client pauses polling to switch to the probe and can only finish once the GET
        in flight returns; one sent before ``3probe`` reached it would otherwise be held
        until the next ping.
        """
        if self.probe is Probe.CONFIRMED and not self._queue:
            self._queue.append(_NOOP_TEXT)

    def farewell_poll(self) -> tuple[str, bool]:
        """A GET after a farewell close: the body to answer, and whether it was the last.

        The first GET takes what was queued, the next one the CLOSE packet; after that
        the session may be forgotten.
        """
        if self._queue:
            return self.take_payload(), False
        self.farewell = False
        return _CLOSE_TEXT, True

    # -- upgrade ------------------------------------------------------------------------

    def begin_probe(self, now: float) -> bool:
        """A WebSocket arrived for this session; False if it may not upgrade."""
        if (
            self.closed
            or self.transport is not TransportName.POLLING
            or self.probe is not Probe.NONE
        ):
            return False
        self.probe = Probe.PROBING
        self._upgrade_until = now + self._upgrade_timeout
        self._reschedule()
        return True

    def probe_receive(self, frame: str | bytes) -> ProbeStep:
        """Take one frame of the probe WebSocket (spec: "Upgrade")."""
        if self.probe is Probe.NONE:
            return ProbeStep.ABANDON
        if frame == _PROBE_PING_TEXT:
            self.probe = Probe.CONFIRMED
            self._queue.append(_NOOP_TEXT)
            return ProbeStep.ANSWER
        if frame == _UPGRADE_TEXT:
            # Node's engine.io takes an UPGRADE that skipped the probe as well.
            return ProbeStep.UPGRADE
        self.probe_gone()
        return ProbeStep.ABANDON

    def probe_gone(self) -> None:
        """The probe closed or was abandoned: the session stays on polling."""
        self.probe = Probe.NONE
        self._upgrade_until = _NEVER
        self._reschedule()

    def take_upgrade_backlog(self) -> list[str]:
        """Switch to WebSocket; return the queued packets the WebSocket must now carry.

        NOOPs queued to end polls are left out: they were only there for the poll.
        """
        self.transport = TransportName.WEBSOCKET
        self.probe_gone()
        backlog = [packet for packet in self._queue if packet != _NOOP_TEXT]
        self._queue.clear()
        self.queued_chars = 0
        return backlog

    # -- closing ------------------------------------------------------------------------

    def close(self, reason: CloseReason, *, poll_held: bool) -> bool:
        """Record the end of the session; return whether a CLOSE packet must be sent.

        With ``SERVER_SHUTDOWN`` on polling, no GET held (``poll_held``) and packets
        queued, the session instead says farewell (see :attr:`farewell`). A CLOSE packet
        for polling is queued here; on a WebSocket the caller sends it.
        """
        if self.closed:
            return False
        self.closed = True
        self.deadline = _NEVER
        self._upgrade_until = _NEVER
        polling = self.transport is TransportName.POLLING
        if reason is CloseReason.SERVER_SHUTDOWN and polling and not poll_held and self._queue:
            self.farewell = True
            return False
        if reason not in _TELLS_CLIENT:
            return False
        if polling:
            self._queue.append(_CLOSE_TEXT)
        return True

    def end(self) -> None:
        """Record that the session ended without anything to tell the client."""
        self.closed = True
        self.deadline = _NEVER
        self._upgrade_until = _NEVER

    def final_poll_answer(self, reason: CloseReason) -> str:
        """The body of a GET held when the session ends, as Node's engine.io answers it.

        NOOP when the client itself sent CLOSE, CLOSE for any other ending; anything still
        queued goes first.
        """
        self._queue.append(_NOOP_TEXT if reason is CloseReason.TRANSPORT_CLOSE else _CLOSE_TEXT)
        return self.take_payload()

    @staticmethod
    def websocket_close_code(reason: CloseReason) -> int:
        """The WebSocket close code that goes with ``reason`` (RFC 6455 §7.4.1)."""
        return _WS_CLOSE_CODES.get(reason, 1000)
