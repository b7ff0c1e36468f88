"""Who answers a request, the HTTP limits, and the connections of one listener.

The :class:`Router` holds the route table (the Engine.IO path, WebSocket endpoints,
plain HTTP endpoints answered without the hosted app, the hosted ASGI app for the rest),
the :class:`HttpLimits` every connection enforces, the set of open connections (for
accounting and for closing them at shutdown), and the one periodic sweep that enforces
the HTTP timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from baatcheet.engine.asgi_bridge import AsgiApp
from baatcheet.engine.forwarded import ProxyTrust
from baatcheet.engine.http import HttpRequest, Responder
from baatcheet.engine.server import EngineServer, Upgrader
from baatcheet.listener.observer import NO_LISTENER_OBSERVER, ListenerObserver
from baatcheet.settings import Settings

if TYPE_CHECKING:
    from baatcheet.listener.http import HttpConnection

__all__ = ["HttpHandler", "HttpLimits", "Router", "UpgradeHandler", "close_connections"]

_GOING_AWAY: Final = 1001

UpgradeHandler = Callable[[HttpRequest, Upgrader], None]
"""Answers a WebSocket upgrade request: ``upgrader.accept(max_size)`` or ``reject(...)``."""
HttpHandler = Callable[[HttpRequest, Responder], None]
"""Answers a plain HTTP request through ``responder``, now or later (from a task)."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How much, and how long, a client may take to send a request.

    Each field is the :class:`~baatcheet.settings.Settings` option of the same name with
    the ``http_`` prefix, where its default and meaning are documented.
    """

    max_request_line_bytes: int
    """Method, URL and version; a longer request line is answered 414."""
    max_header_bytes: int
    """Header lines (name, value and separators); a larger block is answered 431."""
    headers_timeout_s: float
    """From a request's first byte (the connection's opening, for its first request)
    until its headers are complete; 408 when it passes."""
    request_timeout_s: float
    """From the same start until the whole request, body included, has arrived; 408."""
    keep_alive_timeout_s: float
    """How long a connection may sit idle between requests (or before its first byte)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        """The limits ``settings`` asks for."""
        return cls(
            max_request_line_bytes=settings.http_max_request_line_bytes,
            max_header_bytes=settings.http_max_header_bytes,
            headers_timeout_s=settings.http_headers_timeout_s,
            request_timeout_s=settings.http_request_timeout_s,
            keep_alive_timeout_s=settings.http_keep_alive_timeout_s,
        )

    @property
    def head_bytes(self) -> int:
        """Raw bytes a request head may take: request line and header block with their CRLFs.

        httptools keeps a header to itself until its line ends, so this cap on what is
        fed to it while a head is incomplete is what bounds one endless header.
        """
        return self.max_request_line_bytes + self.max_header_bytes + 4

    @property
    def sweep_interval_s(self) -> float:
        """How often deadlines are checked: a quarter of the shortest timeout, at most 1 s.

        A deadline is thus enforced at most a quarter late (Node checks every 30 s).
        """
        shortest = min(self.headers_timeout_s, self.request_timeout_s, self.keep_alive_timeout_s)
        return min(1.0, shortest / 4)


class Router:
    """Decides who answers a request, by path, and enforces the HTTP timeouts.

    Args:
        limits: The HTTP limits every connection enforces.
        max_body_bytes: Largest request body kept; a larger one is answered 413.
        proxies: Proxies trusted to name the real client (``forwarded_allow_ips``).
        observer: Told of connections opening and closing and of write pauses.
    """

    def __init__(
        self,
        *,
        limits: HttpLimits,
        max_body_bytes: int,
        proxies: ProxyTrust | None = None,
        observer: ListenerObserver = NO_LISTENER_OBSERVER,
    ) -> None:
        self.engine: EngineServer | None = None
        """The Engine.IO server answering :attr:`engine_paths`."""
        self.engine_paths: frozenset[str] = frozenset()
        self.websocket_endpoints: dict[str, UpgradeHandler] = {}
        """Plain WebSocket endpoints by path (the demo's ``/ws``)."""
        self.http_endpoints: dict[str, HttpHandler] = {}
        """Plain HTTP endpoints by path, answered without the hosted app (health, metrics)."""
        self.app: AsgiApp | None = None
        """The hosted ASGI application: it answers every other request."""
        self.app_state: dict[str, object] = {}
        self.max_body_bytes = max_body_bytes
        self.limits = limits
        self.proxies = proxies or ProxyTrust(())
        self.observer = observer
        self.head_bytes = limits.head_bytes
        self.tasks: set[asyncio.Task[None]] = set()
        """Hosted-app requests in flight (held so they are not garbage-collected)."""
        self.connections: set[HttpConnection] = set()
        """Open client connections, so shutdown can close them all."""
        self.timed: set[HttpConnection] = set()
        """Connections still speaking HTTP: the ones whose deadlines the sweep checks."""
        self.all_closed: asyncio.Event | None = None
        """Set when the last connection goes, while shutdown waits for that."""
        self._sweep: asyncio.TimerHandle | None = None

    def route_engine(self, path: str, engine: EngineServer) -> None:
        """Send requests for ``path`` (with or without its trailing slash) to ``engine``."""
        self.engine = engine
        self.engine_paths = frozenset({path.rstrip("/") + "/", path.rstrip("/")})

    def watch(self, connection: HttpConnection) -> None:
        """A new connection: add it, and its deadline, to the sweep."""
        self.connections.add(connection)
        self.timed.add(connection)
        self.observer.connection_opened()
        if self._sweep is None:
            self._arm()

    def forget(self, connection: HttpConnection) -> None:
        """A connection is gone."""
        self.connections.discard(connection)
        self.timed.discard(connection)
        self.observer.connection_closed()
        if not self.connections and self.all_closed is not None:
            self.all_closed.set()

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweep = loop.call_later(self.limits.sweep_interval_s, self._sweep_once)

    def _sweep_once(self) -> None:
        self._sweep = None
        now = asyncio.get_running_loop().time()
        # Collected first: expiring a connection may close it, and a close must not
        # change the set while it is being walked.
        for connection in [c for c in self.timed if c.deadline <= now]:
            connection.expire(now)
        if self.timed:
            self._arm()

    def stop_sweeping(self) -> None:
        """Cancel the sweep (shutdown); the next connection would start it again."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None


async def close_connections(router: Router, grace: float) -> None:
    """Close idle HTTP connections, give the rest ``grace`` seconds, then abort them.

    From here on a connection closes as soon as its current answer is out, so a request
    in flight (a REST call, a held long-poll) still gets its answer. A plain WebSocket
    still open (Engine.IO's were closed before) gets a 1001 close, so its peer can leave
    at once instead of holding the shutdown for the whole grace period.
    """
    router.all_closed = asyncio.Event()
    for connection in list(router.connections):
        if connection.idle and connection.transport is not None:
            connection.transport.close()
        elif connection.ws is not None:
            connection.ws.close(_GOING_AWAY, "server shutting down")
    if router.connections:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(router.all_closed.wait(), grace)
    for connection in list(router.connections):
        if connection.transport is not None:
            connection.transport.abort()
    router.stop_sweeping()
    await asyncio.sleep(0)
