"""The listening socket of one process, and its life: start, drain, close.

A :class:`Listener` owns the TCP (or TLS) socket and every connection accepted on it. What
answers which path is mounted on it (:meth:`Listener.mount_engine`,
:meth:`~Listener.mount_websocket`, :meth:`~Listener.mount_http`, and the hosted ASGI app
for everything else); :class:`~baatcheet.sio.Server` mounts its Engine.IO server and the
health and metrics endpoints, and drives the listener's life from its own
``start``/``shutdown``.

Shutting down is two steps so the layers above can do their part in between:
:meth:`Listener.begin_drain` only marks the listener draining (``/readyz`` answers 503, so
a balancer stops sending new clients), and :meth:`Listener.close` stops accepting, closes
idle connections, gives busy ones (a request in flight, a held long-poll) the grace period
to get their answer, then aborts what is left.

A listener may be handed a socket that is already listening (``sock``): a process that
binds its port before its slow start-up (imports, migrations) lets clients that connect
meanwhile wait in the kernel's accept queue instead of being refused, which a restarted
server's reconnecting clients would answer by backing off for seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket

from baatcheet.engine.asgi_bridge import AsgiApp, Lifespan
from baatcheet.engine.forwarded import ProxyTrust
from baatcheet.engine.server import EngineServer
from baatcheet.listener.http import HttpConnection
from baatcheet.listener.observer import NO_LISTENER_OBSERVER, ListenerObserver
from baatcheet.listener.routing import (
    HttpHandler,
    HttpLimits,
    Router,
    UpgradeHandler,
    close_connections,
)
from baatcheet.listener.tls import server_ssl_context
from baatcheet.settings import Settings

__all__ = ["Listener"]

log = logging.getLogger(__name__)

_BACKLOG = 4096
_WAIT_CLOSED_S = 1.0


class Listener:
    """One listening socket and the routes it answers.

    Args:
        settings: Host, port, TLS files, HTTP limits, trusted proxies, GC tuning.
        app: The hosted ASGI application answering every path nothing else is mounted on;
            its lifespan runs with the listener's.
        observer: Told of connections opening and closing and of write pauses.
        sock: A TCP socket already bound and listening, served instead of binding
            ``settings.host``/``settings.port``. Bind it first thing in the process,
            before importing this package (``socket.create_server((host, port),
            backlog=4096)`` needs only the standard library); TLS settings still apply.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        app: AsgiApp | None = None,
        observer: ListenerObserver = NO_LISTENER_OBSERVER,
        sock: socket.socket | None = None,
    ) -> None:
        self.settings = settings
        self._sock = sock
        self.router = Router(
            limits=HttpLimits.from_settings(settings),
            max_body_bytes=max(settings.max_payload_bytes, 1_000_000),
            proxies=ProxyTrust(settings.forwarded_allow_ips),
            observer=observer,
        )
        self.router.app = app
        self.draining = False
        """True from :meth:`begin_drain` on: the process is going away."""
        self._server: asyncio.Server | None = None
        self._lifespan: Lifespan | None = None
        self._closed = False

    # -- routes --------------------------------------------------------------------------

    @property
    def app(self) -> AsgiApp | None:
        """The hosted ASGI application."""
        return self.router.app

    def mount_engine(self, path: str, engine: EngineServer) -> None:
        """Answer ``path`` (polling requests and WebSocket upgrades) with ``engine``."""
        self.router.route_engine(path, engine)

    def mount_websocket(self, path: str, endpoint: UpgradeHandler) -> None:
        """Answer WebSocket upgrades to ``path`` with ``endpoint``."""
        self.router.websocket_endpoints[path] = endpoint

    def mount_http(self, path: str, handler: HttpHandler) -> None:
        """Answer plain HTTP requests to ``path`` with ``handler``, ahead of the hosted app."""
        self.router.http_endpoints[path] = handler

    @property
    def websocket_endpoints(self) -> dict[str, UpgradeHandler]:
        """The WebSocket endpoints by path (the ASGI entry serves the same ones)."""
        return self.router.websocket_endpoints

    # -- state ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the listener is not listening; call start() first")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def scheme(self) -> str:
        """``https`` when TLS is configured, else ``http``."""
        return "https" if self.settings.tls_certfile is not None else "http"

    @property
    def connections(self) -> int:
        """Client connections open right now (HTTP and upgraded WebSocket alike)."""
        return len(self.router.connections)

    # -- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the hosted app's lifespan, then listen.

        Raises:
            ConfigurationError: The TLS settings are incomplete.
            OSError: The address cannot be bound.
        """
        settings = self.settings
        context = server_ssl_context(settings)
        if self.router.app is not None:
            self._lifespan = Lifespan(self.router.app, self.router.app_state)
            await self._lifespan.startup()
        router = self.router
        scheme = self.scheme
        loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._server = await loop.create_server(
                lambda: HttpConnection(router, scheme),
                sock=self._sock,
                ssl=context,
                backlog=_BACKLOG,
            )
        else:
            self._server = await loop.create_server(
                lambda: HttpConnection(router, scheme),
                host=settings.host,
                port=settings.port,
                ssl=context,
                backlog=_BACKLOG,
                reuse_address=True,
            )
        if settings.tune_gc:
            # Long-lived start-up objects never need scanning again, and a larger
            # young-generation threshold means fewer stop-the-world pauses under load.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 50, 100)
        log.info("listening on %s://%s:%d", scheme, settings.host, self.port)

    def begin_drain(self) -> None:
        """Mark the process as going away; nothing else changes yet (see :meth:`close`)."""
        self.draining = True

    async def close(self, grace: float) -> None:
        """Stop accepting, let busy connections finish within ``grace`` s, stop the app.

        Idle connections close at once; a connection busy with a request closes as soon as
        its answer is out; whatever is still open when ``grace`` ends is aborted, so this
        never hangs on a peer. Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        self.draining = True
        server = self._server
        if server is not None:
            server.close()
        await close_connections(self.router, grace)
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), _WAIT_CLOSED_S)
        if self._lifespan is not None:
            await self._lifespan.shutdown()
