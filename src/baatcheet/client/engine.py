"""The client side of one Engine.IO v4 connection: handshake, heartbeat, upgrade, writes.

The mirror of the server's ``EngineSession``, behaving like engine.io-client's ``Socket``:

* **Handshake.** The first transport of ``transports`` (the next ones as well with
  ``try_all_transports``) opens a session; the server's OPEN packet gives its id and the
  heartbeat timing.
* **Heartbeat** (spec: "Heartbeat"). The server pings every ``pingInterval`` and we answer
  each PING with a PONG. No PING for ``pingInterval + pingTimeout`` means the server, or
  the path to it, is dead: the connection ends with reason ``ping timeout``.
* **Upgrade** (spec: "Upgrade"). A session opened on long-polling probes a WebSocket
  (``PROBE_PING`` → ``PROBE_PONG``, the named packets of
  :mod:`baatcheet.proto.engineio_session`), pauses polling once the GET in flight is
  answered, sends UPGRADE on the WebSocket and carries on there. A failed probe changes
  nothing. The PING watchdog is :class:`~baatcheet.proto.heartbeat.PingWatchdog`.
* **Writes.** Outgoing packets wait in one buffer that a single writer task drains in
  order, one batch per transport write; a long-polling batch stays under ``maxPayload``.

The layer above hears about the connection only through :class:`EngineHandler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
from collections.abc import Sequence
from typing import Final, Protocol

from baatcheet.client._tasks import spawn
from baatcheet.client.errors import ConnectionFailedError
from baatcheet.client.handshake import EngineHandshake
from baatcheet.client.reasons import DisconnectReason
from baatcheet.client.transport import Transport, TransportFactory, TransportTarget
from baatcheet.errors import ProtocolError
from baatcheet.proto.engineio import EnginePacket, EnginePacketType
from baatcheet.proto.engineio_session import PONG, PROBE_PING, PROBE_PONG, UPGRADE
from baatcheet.proto.heartbeat import PingWatchdog

__all__ = ["EngineClient", "EngineHandler"]

log = logging.getLogger(__name__)

_PROBE_TIMEOUT_S: Final = 10.0
"""How long an upgrade probe may take (the server's default ``upgrade_timeout``)."""
_DRAIN_TIMEOUT_S: Final = 2.0
"""How long a deliberate close waits for queued packets (the DISCONNECTs) to go out."""
_MESSAGE: Final = EnginePacketType.MESSAGE


class EngineHandler(Protocol):
    """What the layer above is told about its Engine.IO connection."""

    def on_engine_message(self, data: str | bytes) -> None:
        """A MESSAGE packet arrived (a Socket.IO packet or one of its attachments)."""

    def on_engine_ping(self) -> None:
        """The server pinged (and was answered)."""

    def on_engine_upgrade(self, transport: str) -> None:
        """The session moved to ``transport``."""

    def on_engine_close(self, reason: DisconnectReason, description: str) -> None:
        """The connection ended by itself (never called after :meth:`EngineClient.close`)."""


class _State(enum.Enum):
    NEW = enum.auto()
    OPENING = enum.auto()
    OPEN = enum.auto()
    CLOSING = enum.auto()
    CLOSED = enum.auto()


class EngineClient:
    """One Engine.IO session seen from the client; opened once, closed once.

    Args:
        target: Where to connect.
        transports: Transport names in order of preference (``polling``, ``websocket``).
        factory: Builds a transport from its name.
        handler: Told about messages, pings, upgrades and the connection's end.
        upgrade: Whether a polling session may move to a WebSocket.
        try_all_transports: Whether a failed first transport falls back to the next.
    """

    def __init__(
        self,
        target: TransportTarget,
        transports: Sequence[str],
        factory: TransportFactory,
        handler: EngineHandler,
        *,
        upgrade: bool = True,
        try_all_transports: bool = False,
    ) -> None:
        if not transports:
            raise ValueError("at least one transport is needed")
        self.handshake: EngineHandshake | None = None
        """What the server said when the session opened."""
        self._target = target
        self._transports = tuple(transports)
        self._factory = factory
        self._handler = handler
        self._upgrade = upgrade
        self._try_all = try_all_transports
        self._state = _State.NEW
        self._transport: Transport | None = None
        self._opened: asyncio.Future[None] | None = None
        self._buffer: list[EnginePacket] = []
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._send_lock = asyncio.Lock()
        self._upgrading = False
        self._writer: asyncio.Task[None] | None = None
        self._prober: asyncio.Task[None] | None = None
        self._watchdog: PingWatchdog | None = None
        self._watchdog_timer: asyncio.TimerHandle | None = None

    @property
    def sid(self) -> str | None:
        """The Engine.IO session id, once open."""
        return self.handshake.sid if self.handshake is not None else None

    @property
    def transport(self) -> str | None:
        """The name of the transport carrying the session (None when not open)."""
        return self._transport.name if self._transport is not None else None

    @property
    def is_open(self) -> bool:
        """True from the handshake until the connection ends or closing starts."""
        return self._state is _State.OPEN

    # -- opening -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the session (the caller bounds the time); starts the upgrade probe.

        Raises:
            ConnectionFailedError: No transport could open the session.
        """
        if self._state is not _State.NEW:
            raise RuntimeError("an EngineClient is opened once; make a new one to reconnect")
        names = self._transports if self._try_all else self._transports[:1]
        failure: ConnectionFailedError | None = None
        for name in names:
            try:
                await self._open_on(name)
            except ConnectionFailedError as exc:
                failure = exc
                continue
            break
        else:
            assert failure is not None
            self._state = _State.CLOSED
            raise failure
        handshake = self.handshake
        assert handshake is not None
        if (
            self._upgrade
            and self.transport == "polling"
            and "websocket" in handshake.upgrades
            and "websocket" in self._transports
        ):
            self._prober = asyncio.create_task(self._probe("websocket"))

    async def _open_on(self, name: str) -> None:
        transport = self._factory(name, self._target)
        self._opened = asyncio.get_running_loop().create_future()
        transport.on_packet = self._on_packet
        transport.on_close = functools.partial(self._on_transport_close, transport)
        self._transport = transport
        self._state = _State.OPENING
        try:
            await transport.open(None)
            await self._opened
        except BaseException:
            # Failure, or the caller's deadline (a cancellation): leave nothing running.
            self._stop()
            self._transport = None
            self.handshake = None
            self._state = _State.NEW
            await transport.close()
            raise

    def _on_handshake(self, packet: EnginePacket) -> None:
        opened = self._opened
        try:
            handshake = EngineHandshake.parse(str(packet.data))
        except ProtocolError as exc:
            if opened is not None and not opened.done():
                opened.set_exception(ConnectionFailedError(f"bad handshake: {exc}"))
            return
        self.handshake = handshake
        self._state = _State.OPEN
        self._arm_watchdog()
        self._writer = asyncio.create_task(self._write_loop())
        if opened is not None and not opened.done():
            opened.set_result(None)

    # -- sending -----------------------------------------------------------------------------

    def send(self, parts: Sequence[str | bytes]) -> None:
        """Queue one MESSAGE packet per part, in order; dropped unless the session is open."""
        if self._state is not _State.OPEN:
            return
        self._buffer.extend(EnginePacket(_MESSAGE, part) for part in parts)
        self._drained.clear()
        self._wakeup.set()

    def _queue_control(self, packet: EnginePacket) -> None:
        self._buffer.append(packet)
        self._drained.clear()
        self._wakeup.set()

    async def _write_loop(self) -> None:
        buffer = self._buffer
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while buffer and not self._upgrading:
                # Under the lock, so an upgrade never switches transports mid-POST and a
                # batch is never sent on the transport it was not taken for.
                async with self._send_lock:
                    transport = self._transport
                    if transport is None or self._upgrading or not buffer:
                        break
                    batch = self._take_batch(transport.name)
                    await transport.send(batch)
            if not buffer:
                self._drained.set()

    def _take_batch(self, transport: str) -> list[EnginePacket]:
        buffer = self._buffer
        count = len(buffer)
        if transport == "polling" and count > 1 and self.handshake is not None:
            count = _fitting(buffer, self.handshake.max_payload)
        batch = buffer[:count]
        del buffer[:count]
        return batch

    # -- receiving ---------------------------------------------------------------------------

    def _on_packet(self, packet: EnginePacket) -> None:
        kind = packet.type
        if kind is _MESSAGE:
            if self._state is _State.OPEN:
                self._handler.on_engine_message(packet.data)
        elif kind is EnginePacketType.PING:
            if self._state is _State.OPEN:
                data = packet.data
                self._queue_control(EnginePacket(EnginePacketType.PONG, data) if data else PONG)
                self._arm_watchdog()
                self._handler.on_engine_ping()
        elif kind is EnginePacketType.OPEN:
            if self._state is _State.OPENING:
                self._on_handshake(packet)
        elif kind is EnginePacketType.CLOSE:
            self._terminate(DisconnectReason.TRANSPORT_CLOSE, "the server closed the session")
        # NOOP ends a poll, UPGRADE and PONG are never meant for a client: nothing to do.

    def _on_transport_close(
        self, transport: Transport, reason: DisconnectReason, description: str
    ) -> None:
        if transport is not self._transport:
            return  # a failed probe, or the polling transport left behind by an upgrade
        if self._state is _State.OPENING:
            opened = self._opened
            if opened is not None and not opened.done():
                opened.set_exception(
                    ConnectionFailedError(
                        f"the connection ended during the handshake: {description}"
                    )
                )
        elif self._state is _State.CLOSING:
            self._drained.set()  # nothing more will be written; let close() go on
        else:
            self._terminate(reason, description)

    # -- heartbeat ---------------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        """Move the ping deadline on; the one timer is made only when none is pending."""
        watchdog = self._watchdog
        if watchdog is None:
            handshake = self.handshake
            assert handshake is not None
            watchdog = PingWatchdog(handshake.ping_interval, handshake.ping_timeout)
            self._watchdog = watchdog
        loop = asyncio.get_running_loop()
        watchdog.ping_received(loop.time())
        if self._watchdog_timer is None:
            self._watchdog_timer = loop.call_at(watchdog.deadline, self._on_watchdog)

    def _on_watchdog(self) -> None:
        self._watchdog_timer = None
        watchdog = self._watchdog
        if watchdog is None:
            return
        loop = asyncio.get_running_loop()
        if watchdog.expired(loop.time()):
            self._terminate(DisconnectReason.PING_TIMEOUT, f"no PING for {watchdog.limit:g}s")
        else:
            self._watchdog_timer = loop.call_at(watchdog.deadline, self._on_watchdog)

    # -- upgrade -----------------------------------------------------------------------------

    async def _probe(self, name: str) -> None:
        probe = self._factory(name, self._target)
        answered: asyncio.Future[EnginePacket] = asyncio.get_running_loop().create_future()

        def on_probe_packet(packet: EnginePacket) -> None:
            if not answered.done():
                answered.set_result(packet)

        def on_probe_close(reason: DisconnectReason, description: str) -> None:
            if not answered.done():
                answered.set_exception(ConnectionFailedError(f"probe closed ({description})"))

        probe.on_packet = on_probe_packet
        probe.on_close = on_probe_close
        switched = False
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                await probe.open(self.sid)
                await probe.send([PROBE_PING])
                answer = await answered
            if answer != PROBE_PONG:
                raise ConnectionFailedError(f"probe answered {answer.type.name} {answer.data!r}")
            switched = await self._switch_to(probe)
        except (ConnectionFailedError, TimeoutError) as exc:
            log.debug("staying on %s: upgrade to %s failed: %s", self.transport, name, exc)
        finally:
            if not switched:
                spawn(probe.close())

    async def _switch_to(self, probe: Transport) -> bool:
        """Move the session to ``probe``; False if the session ended meanwhile."""
        async with self._send_lock:
            self._upgrading = True  # from here on no POST is in flight or started
        try:
            old = self._transport
            if old is None:
                return False
            await old.pause()
            if self._state is not _State.OPEN:
                return False
            probe.on_packet = self._on_packet
            probe.on_close = functools.partial(self._on_transport_close, probe)
            self._transport = probe
            await probe.send([UPGRADE])
        finally:
            self._upgrading = False
            self._wakeup.set()
        spawn(old.close())  # paused, so it sends no CLOSE: the session lives on
        if self._state is _State.OPEN:
            self._handler.on_engine_upgrade(probe.name)
        return True

    # -- closing -----------------------------------------------------------------------------

    async def close(self) -> None:
        """End the session on purpose, after the queued packets went out (bounded)."""
        if self._state is _State.OPENING:
            opened = self._opened
            if opened is not None and not opened.done():
                opened.set_exception(ConnectionFailedError("closed by the client"))
            return
        if self._state is not _State.OPEN:
            return
        prober = self._prober
        if prober is not None and not prober.done():
            prober.cancel()
            await asyncio.wait({prober})
        self._state = _State.CLOSING
        if self._buffer:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_DRAIN_TIMEOUT_S):
                    await self._drained.wait()
        self._state = _State.CLOSED
        self._stop()
        transport = self._transport
        self._transport = None
        if transport is not None:
            await transport.close()

    def _terminate(self, reason: DisconnectReason, description: str) -> None:
        """The connection ended by itself: stop everything and tell the handler once."""
        if self._state is not _State.OPEN:
            return
        self._state = _State.CLOSED
        self._stop()
        transport = self._transport
        self._transport = None
        if transport is not None:
            spawn(transport.close())
        log.debug("engine connection %s ended: %s (%s)", self.sid, reason, description)
        self._handler.on_engine_close(reason, description)

    def _stop(self) -> None:
        if self._watchdog_timer is not None:
            self._watchdog_timer.cancel()
            self._watchdog_timer = None
        self._watchdog = None
        for task in (self._writer, self._prober):
            if task is not None and not task.done():
                task.cancel()
        self._writer = None
        self._prober = None
        self._buffer.clear()
        self._drained.set()


def _fitting(packets: Sequence[EnginePacket], max_payload: int) -> int:
    """How many leading packets fit one long-polling payload of ``max_payload`` bytes.

    As engine.io-client counts: each packet's data, plus one byte for its type and one
    for the separator; the first packet always goes, however large.
    """
    size = 1
    for index, packet in enumerate(packets):
        data = packet.data
        size += len(data.encode()) if isinstance(data, str) else 4 * ((len(data) + 2) // 3)
        if index > 0 and size > max_payload:
            return index
        size += 2
    return len(packets)
