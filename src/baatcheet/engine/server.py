"""The Engine.IO v4 server: request validation, handshakes, and session lookup.

It answers the HTTP requests under the Socket.IO path (long-polling GET/POST, CORS
preflight) and WebSocket upgrades, creates :class:`EngineSession` objects, and hands
each new session to the layer above through ``on_connection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from enum import IntEnum
from typing import Final

import orjson

from baatcheet._types import EngineSid
from baatcheet.engine.coalesce import WriteCoalescer
from baatcheet.engine.cors import OriginPolicy
from baatcheet.engine.deadlines import DeadlineQueue
from baatcheet.engine.http import HttpRequest, Responder
from baatcheet.engine.observer import NO_ENGINE_OBSERVER, EngineObserver, HandshakeOutcome
from baatcheet.engine.session import (
    CloseReason,
    EngineSession,
    SessionHandler,
    SessionTiming,
    TransportName,
)
from baatcheet.engine.websocket import WebSocketLike
from baatcheet.proto.engineio import open_packet_data
from baatcheet.settings import Settings

__all__ = ["AllowRequest", "EngineErrorCode", "EngineServer", "Upgrader"]

log = logging.getLogger(__name__)

AllowRequest = Callable[[HttpRequest], bool | Awaitable[bool]]
"""Decides whether a handshake may proceed (False answers 403 Forbidden)."""


class EngineErrorCode(IntEnum):
    """The error codes Engine.IO servers put in their JSON 400/403 answers."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


_MESSAGES = {
    EngineErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    EngineErrorCode.UNKNOWN_SID: "Session ID unknown",
    EngineErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    EngineErrorCode.BAD_REQUEST: "Bad request",
    EngineErrorCode.FORBIDDEN: "Forbidden",
    EngineErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class Upgrader:
    """Lets a handler accept or refuse one WebSocket upgrade request."""

    def __init__(
        self,
        accept: Callable[[int], WebSocketLike | None],
        reject: Callable[[int, list[tuple[bytes, bytes]], bytes], None],
    ) -> None:
        self.accept = accept
        """Write the 101 answer; returns the connection, or None if the handshake was bad."""
        self.reject = reject
        """Answer with a plain HTTP error instead of upgrading."""


class EngineServer:
    """Owns every Engine.IO session of this process.

    Args:
        settings: Timeouts, limits and origins.
        on_connection: Called with each new session; returns its handler.
        allow_request: Decides whether a handshake may proceed.
        observer: Told of handshakes, upgrades and closes (metrics).
    """

    def __init__(
        self,
        settings: Settings,
        on_connection: Callable[[EngineSession], SessionHandler],
        allow_request: AllowRequest | None = None,
        *,
        observer: EngineObserver = NO_ENGINE_OBSERVER,
    ) -> None:
        self.settings = settings
        self._timing = SessionTiming.from_settings(settings)
        self._open_numbers = (
            settings.ping_interval_ms,
            settings.ping_timeout_ms,
            settings.max_payload_bytes,
        )
        """What the OPEN packet tells every client: pingInterval, pingTimeout, maxPayload."""
        self.observer = observer
        self.sessions: dict[EngineSid, EngineSession] = {}
        self._on_connection = on_connection
        self._allow_request = allow_request
        self._origins = OriginPolicy.from_settings(settings)
        self._tasks: set[asyncio.Task[None]] = set()
        self._deadlines = DeadlineQueue(resolution=_deadline_resolution(settings))
        self.draining = False
        """Set by shutdown: handshakes are refused (503) while sessions are closed."""
        self._all_gone: asyncio.Event | None = None
        """Set when the last session is forgotten, while shutdown waits for that."""
        self.writes = WriteCoalescer()
        """Coalesces WebSocket writes during bursts; see :meth:`WriteCoalescer.hold`."""

    # -- HTTP --------------------------------------------------------------------------

    def handle_http(self, request: HttpRequest, responder: Responder) -> None:
        """Answer a non-upgrade request to the Engine.IO path."""
        origin = request.header(b"origin")
        cors = self._origins.headers(origin, request)
        sid = request.query.get("sid")
        if cors is None:
            self._refused(sid, TransportName.POLLING, HandshakeOutcome.FORBIDDEN)
            self._error(responder, EngineErrorCode.FORBIDDEN, [], status=403)
            return
        if request.method == "OPTIONS":
            responder.respond(204, [*cors, *self._origins.preflight_headers(request)], b"")
            return
        code = self._verify(request, upgrade=False)
        if code is not None:
            self._refused(sid, TransportName.POLLING, HandshakeOutcome.BAD_REQUEST)
            self._error(responder, code, cors)
            return
        if sid is None:
            if self.draining:
                self.observer.handshake(TransportName.POLLING, HandshakeOutcome.DRAINING)
                responder.respond(503, [*cors, *_TEXT], _SHUTTING_DOWN)
                return
            self._handshake(request, responder, None, cors)
            return
        session = self.sessions[EngineSid(sid)]
        wrapped = _CorsResponder(responder, cors) if cors else responder
        if request.method == "GET":
            session.handle_poll_get(wrapped)
        else:
            session.handle_poll_post(request.body, wrapped)

    def refuse_oversized(self, request: HttpRequest, responder: Responder) -> None:
        """A request whose body passed ``max_payload_bytes`` (its body was not kept)."""
        sid = request.query.get("sid")
        session = self.sessions.get(EngineSid(sid)) if sid is not None else None
        if session is None or session.transport is not TransportName.POLLING:
            responder.respond(413, _TEXT, b"payload too large")
            return
        session.refuse_oversized(responder)

    def handle_upgrade(self, request: HttpRequest, upgrader: Upgrader) -> None:
        """Answer a WebSocket upgrade request to the Engine.IO path."""
        sid = request.query.get("sid")
        if self._origins.headers(request.header(b"origin"), request) is None:
            self._refused(sid, TransportName.WEBSOCKET, HandshakeOutcome.FORBIDDEN)
            upgrader.reject(403, _JSON, _error_body(EngineErrorCode.FORBIDDEN))
            return
        code = self._verify(request, upgrade=True)
        if code is not None:
            self._refused(sid, TransportName.WEBSOCKET, HandshakeOutcome.BAD_REQUEST)
            upgrader.reject(400, _JSON, _error_body(code))
            return
        if sid is None:
            if self.draining:
                self.observer.handshake(TransportName.WEBSOCKET, HandshakeOutcome.DRAINING)
                upgrader.reject(503, _TEXT, _SHUTTING_DOWN)
                return
            self._handshake(request, None, upgrader, [])
            return
        session = self.sessions[EngineSid(sid)]
        ws = upgrader.accept(self._timing.max_payload_bytes)
        if ws is not None and not session.begin_upgrade(ws):
            ws.close(1008, "session cannot be upgraded")

    def _verify(self, request: HttpRequest, *, upgrade: bool) -> EngineErrorCode | None:
        query = request.query
        transport = query.get("transport")
        if transport not in (TransportName.POLLING, TransportName.WEBSOCKET):
            return EngineErrorCode.UNKNOWN_TRANSPORT
        if upgrade != (transport == TransportName.WEBSOCKET):
            return EngineErrorCode.BAD_REQUEST
        if query.get("EIO") != "4":
            return EngineErrorCode.UNSUPPORTED_PROTOCOL_VERSION
        sid = query.get("sid")
        if sid is None:
            if request.method != "GET":
                return EngineErrorCode.BAD_HANDSHAKE_METHOD
            return None
        session = self.sessions.get(EngineSid(sid))
        if session is None:
            return EngineErrorCode.UNKNOWN_SID
        if not upgrade and (
            session.transport is not TransportName.POLLING or request.method not in ("GET", "POST")
        ):
            return EngineErrorCode.BAD_REQUEST
        return None

    # -- handshake ---------------------------------------------------------------------

    def _handshake(
        self,
        request: HttpRequest,
        responder: Responder | None,
        upgrader: Upgrader | None,
        cors: list[tuple[bytes, bytes]],
    ) -> None:
        """Open a session now, or once ``allow_request`` (which may be async) admits it.

        Without ``allow_request`` nothing here waits, so the session opens in the same
        loop turn as the request arrived: a task per handshake would cost a reconnect
        storm a task and a loop turn per client for nothing.
        """
        if self._allow_request is None:
            self._open(request, responder, upgrader, cors)
        else:
            self._spawn(self._admit(request, responder, upgrader, cors))

    async def _admit(
        self,
        request: HttpRequest,
        responder: Responder | None,
        upgrader: Upgrader | None,
        cors: list[tuple[bytes, bytes]],
    ) -> None:
        """Ask ``allow_request``; open the session, or answer 403."""
        assert self._allow_request is not None
        try:
            verdict = self._allow_request(request)
            allowed = await verdict if inspect.isawaitable(verdict) else verdict
        except Exception:
            log.exception("allow_request failed; refusing the connection")
            allowed = False
        if allowed:
            self._open(request, responder, upgrader, cors)
            return
        transport = TransportName.POLLING if upgrader is None else TransportName.WEBSOCKET
        self.observer.handshake(transport, HandshakeOutcome.FORBIDDEN)
        body = _error_body(EngineErrorCode.FORBIDDEN)
        if responder is not None:
            responder.respond(403, [*cors, *_JSON], body)
        elif upgrader is not None:
            upgrader.reject(403, _JSON, body)

    def _open(
        self,
        request: HttpRequest,
        responder: Responder | None,
        upgrader: Upgrader | None,
        cors: list[tuple[bytes, bytes]],
    ) -> None:
        """Open the session: upgrade or answer the first poll, send OPEN, attach a handler."""
        sid = EngineSid(secrets.token_urlsafe(15))
        timing = self._timing
        session = EngineSession(
            sid,
            request,
            self.settings,
            self._forget,
            deadlines=self._deadlines,
            writes=self.writes,
            observer=self.observer,
            timing=timing,
        )
        if upgrader is not None:
            ws = upgrader.accept(timing.max_payload_bytes)
            if ws is None:
                return
            session.attach_websocket(ws)
            upgrades = _NO_UPGRADES
            transport = _WEBSOCKET
        else:
            upgrades = _TO_WEBSOCKET
            transport = _POLLING
        self.sessions[sid] = session
        self.observer.handshake(transport, _ACCEPTED)
        open_data = open_packet_data(sid, upgrades, *self._open_numbers)
        session.start(open_data)
        if responder is not None:
            session.handle_poll_get(_CorsResponder(responder, cors) if cors else responder)
        session.handler = self._on_connection(session)
        request.compact()

    def _forget(self, session: EngineSession) -> None:
        if not session.farewell:
            self.sessions.pop(session.sid, None)
            if not self.sessions and self._all_gone is not None:
                self._all_gone.set()

    def close_all(self, reason: CloseReason = CloseReason.SERVER_SHUTDOWN) -> None:
        """Close every session (used on shutdown).

        A polling client between two requests keeps its session entry until its next GET
        fetches the CLOSE packet (see :meth:`farewells_delivered`).
        """
        for session in list(self.sessions.values()):
            session.close(reason)
        self._deadlines.clear()

    async def farewells_delivered(self, grace: float) -> None:
        """Wait (at most ``grace`` s) until closed polling clients have fetched their CLOSE."""
        if self.sessions:
            self._all_gone = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), grace)
        self.sessions.clear()

    # -- helpers -----------------------------------------------------------------------

    def _refused(self, sid: str | None, transport: TransportName, why: HandshakeOutcome) -> None:
        """Report a refused request if it was a handshake (one that names no session)."""
        if sid is None:
            self.observer.handshake(transport, why)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _error(
        responder: Responder,
        code: EngineErrorCode,
        cors: Iterable[tuple[bytes, bytes]],
        status: int = 400,
    ) -> None:
        responder.respond(status, [*cors, *_JSON], _error_body(code))


_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; charset=UTF-8")]
_SHUTTING_DOWN = b"server shutting down: connect to another node or retry shortly"
# Read once, for the handshake path (Enum members cost a metaclass hook on Python 3.11).
_POLLING: Final = TransportName.POLLING
_WEBSOCKET: Final = TransportName.WEBSOCKET
_ACCEPTED: Final = HandshakeOutcome.ACCEPTED
_NO_UPGRADES: Final[list[str]] = []
_TO_WEBSOCKET: Final = [TransportName.WEBSOCKET.value]


def _deadline_resolution(settings: Settings) -> float:
    """How finely heartbeat and upgrade deadlines are served.

    A quarter second for heartbeats of 5 s and more (at most 5 % late, and idle pings go
    out in batches); exactly for shorter ones, as tests and the official conformance
    suites use, which check that a session is gone right at ``pingInterval +
    pingTimeout``.
    """
    if min(settings.ping_interval_ms, settings.ping_timeout_ms) < _BATCHED_HEARTBEAT_MS:
        return 0.0
    return _TICK_S


_BATCHED_HEARTBEAT_MS = 5_000
_TICK_S = 0.25


def _error_body(code: EngineErrorCode) -> bytes:
    return orjson.dumps({"code": int(code), "message": _MESSAGES[code]})


class _CorsResponder:
    """Adds the CORS headers of the request to whatever response goes out."""

    __slots__ = ("_cors", "_inner")

    def __init__(self, inner: Responder, cors: list[tuple[bytes, bytes]]) -> None:
        self._inner = inner
        self._cors = cors

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self._inner.respond(status, [*self._cors, *headers], body)

    @property
    def answered(self) -> bool:
        return self._inner.answered

    def on_abort(self, callback: Callable[[], None] | None) -> None:
        self._inner.on_abort(callback)
