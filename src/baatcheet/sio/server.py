"""The Socket.IO server: namespaces over the Engine.IO server, on one listening port."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
from collections.abc import Callable
from typing import Any, TypeVar, overload

from baatcheet.adapters.adapter_memory import MemoryAdapter
from baatcheet.adapters.adapter_redis import redis_adapter_factory
from baatcheet.adapters.base import AdapterFactory
from baatcheet.adapters.broker_redis import RedisBroker
from baatcheet.engine.asgi_bridge import AsgiApp, Lifespan
from baatcheet.engine.asgi_entry import AsgiEntry
from baatcheet.engine.cors import OriginPolicy
from baatcheet.engine.forwarded import ProxyTrust
from baatcheet.engine.http_server import HttpConnection, HttpLimits, Router, close_connections
from baatcheet.engine.raw_websocket import RawWebSocketEndpoint
from baatcheet.engine.server import AllowRequest, EngineServer
from baatcheet.engine.session import CloseReason, EngineSession, SessionHandler
from baatcheet.errors import ConfigurationError
from baatcheet.settings import Settings
from baatcheet.sio.broadcast import BroadcastOperator, BroadcastTargets
from baatcheet.sio.client import Client, ClientLimits
from baatcheet.sio.namespace import DynamicNamespace, Namespace, NamespaceMatcher

__all__ = ["Server"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class Server(BroadcastTargets):
    """A Socket.IO v5 server with its own HTTP/WebSocket listener.

    Args:
        settings: Every option (port, timeouts, limits, CORS…).
        app: An ASGI application that answers every HTTP request outside the
            Socket.IO and plain-WebSocket paths (REST API, static files, metrics).
        adapter_factory: Builds each namespace's adapter. By default the Redis adapter
            when ``settings.redis_url`` is set (one broker shared by every namespace,
            connected in :meth:`start`), else the in-memory one.
        allow_request: Called with each handshake request; False refuses it (403).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        app: AsgiApp | None = None,
        adapter_factory: AdapterFactory | None = None,
        allow_request: AllowRequest | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.app = app
        self.broker: RedisBroker | None = None
        """This server's link to the cluster, when the adapter is chosen from settings."""
        if adapter_factory is None:
            if self.settings.redis_url:
                self.broker = RedisBroker.from_settings(self.settings)
                adapter_factory = redis_adapter_factory(self.broker)
            else:
                adapter_factory = MemoryAdapter
        self._adapter_factory = adapter_factory
        self.namespaces: dict[str, Namespace] = {}
        self._dynamic: list[DynamicNamespace] = []
        settings = self.settings
        self._client_limits = ClientLimits(
            connect_timeout=settings.connect_timeout_ms / 1000,
            max_pending_handlers=settings.inbound_max_pending_handlers,
            packet_rate=settings.packet_rate_per_s,
            packet_burst=settings.packet_burst,
            refusals_before_disconnect=settings.packet_refusals_before_disconnect,
        )
        self.engine = EngineServer(self.settings, self._on_engine_connection, allow_request)
        self.raw_websocket = RawWebSocketEndpoint(
            OriginPolicy.from_settings(self.settings), self.settings.max_payload_bytes
        )
        self._listener: asyncio.Server | None = None
        self._router: Router | None = None
        self._lifespan: Lifespan | None = None
        self._app_state: dict[str, object] = {}
        self._stopped = asyncio.Event()
        self.of("/")

    # -- namespaces ----------------------------------------------------------------------

    def of(self, name: str | NamespaceMatcher) -> Any:
        """The namespace ``name``, created if needed; a regex or callable makes a dynamic family."""
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            namespace = self.namespaces.get(name)
            if namespace is None:
                namespace = Namespace(name, self._adapter_factory)
                self.namespaces[name] = namespace
            return namespace
        family = DynamicNamespace(name, self._adapter_factory)
        self._dynamic.append(family)
        return family

    def _lookup(self, name: str, auth: dict[str, Any]) -> Namespace | None:
        namespace = self.namespaces.get(name)
        if namespace is not None:
            return namespace
        for family in self._dynamic:
            if family.matches(name, auth):
                return family.child(name)
        return None

    def _all_namespaces(self) -> list[Namespace]:
        """Every namespace, dynamic families' children included."""
        children = [child for family in self._dynamic for child in family.children.values()]
        return [*self.namespaces.values(), *children]

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the listeners of ``/`` on every other node (``io.serverSideEmit``)."""
        await self.main.server_side_emit(event, *args)

    async def server_side_emit_with_ack(
        self,
        event: str,
        *args: Any,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors Node's io.timeout(ms)
    ) -> list[Any]:
        """Send ``event`` to every other node's ``/`` listeners; one answer per node."""
        return await self.main.server_side_emit_with_ack(event, *args, timeout=timeout)

    @property
    def main(self) -> Namespace:
        """The ``/`` namespace, which the shortcuts below act on."""
        return self.namespaces["/"]

    def use(self, middleware: F) -> F:
        """Add a middleware to ``/``."""
        return self.main.use(middleware)

    @overload
    def on(self, event: str, handler: F) -> F: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register a ``connection`` handler on ``/``."""
        return self.main.on(event, handler)

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.main)

    def coalesce_writes(self) -> None:
        """Send this burst's WebSocket frames with one write per connection.

        For handlers that resume many at once, such as every sender woken by one batch
        commit: frames they emit (broadcasts and acks alike) are held until the loop has
        run the callbacks already queued, then each connection gets its frames in one
        system call, in order. Cheap to call repeatedly; outside bursts, do not bother.
        """
        self.engine.writes.hold()

    def asgi_app(self, fallback: AsgiApp | None = None) -> AsgiEntry:
        """This server as an ASGI app (e.g. ``fastapi_app.mount("/", server.asgi_app())``).

        Slower than :meth:`serve` (every write goes through the ASGI server's ``send``),
        but the same protocol, sessions, rooms and acks. ``fallback`` answers every
        other path.
        """
        settings = self.settings
        return AsgiEntry(
            self.engine,
            settings.socketio_path,
            {settings.ws_path: self.raw_websocket},
            fallback if fallback is not None else self.app,
        )

    # -- engine callback -----------------------------------------------------------------

    def _on_engine_connection(self, session: EngineSession) -> SessionHandler:
        return Client(session, self._lookup, self._client_limits)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._listener is None or not self._listener.sockets:
            raise RuntimeError("the server is not listening; call start() first")
        return int(self._listener.sockets[0].getsockname()[1])

    def _ssl_context(self) -> ssl.SSLContext | None:
        settings = self.settings
        if settings.tls_certfile is None and settings.tls_keyfile is None:
            return None
        if settings.tls_certfile is None or settings.tls_keyfile is None:
            raise ConfigurationError("TLS needs both tls_certfile and tls_keyfile")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.tls_certfile, settings.tls_keyfile)
        return context

    async def start(self) -> None:
        """Join the cluster (if any), start the hosted app's lifespan, then listen.

        Raises:
            ClusterUnavailableError: ``redis_url`` is set and Redis cannot be reached.
        """
        settings = self.settings
        if self.broker is not None:
            await self.broker.connect()
        if self.app is not None:
            self._lifespan = Lifespan(self.app, self._app_state)
            await self._lifespan.startup()
        for namespace in list(self.namespaces.values()):
            await namespace.ensure_ready()
        context = self._ssl_context()
        router = Router(
            engine=self.engine,
            engine_path=settings.socketio_path,
            websocket_endpoints={settings.ws_path: self.raw_websocket},
            app=self.app,
            max_body_bytes=max(settings.max_payload_bytes, 1_000_000),
            limits=HttpLimits.from_settings(settings),
            proxies=ProxyTrust(settings.forwarded_allow_ips),
        )
        router.app_state = self._app_state
        self._router = router
        scheme = "https" if context is not None else "http"
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            lambda: HttpConnection(router, scheme),
            host=settings.host,
            port=settings.port,
            ssl=context,
            backlog=4096,
            reuse_address=True,
        )
        if settings.tune_gc:
            # Long-lived start-up objects never need scanning again, and a larger
            # young-generation threshold means fewer stop-the-world pauses under load.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 50, 100)
        log.info("listening on %s://%s:%d", scheme, settings.host, self.port)

    async def serve(self) -> None:
        """Start, then run until :meth:`shutdown` is called."""
        await self.start()
        await self._stopped.wait()

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop accepting, close every connection with a close frame, stop the app.

        Clients see the transport close (reason ``transport close``), so their
        reconnection logic retries, against this node once it is back or another one.
        """
        wait = self.settings.shutdown_grace_s if grace is None else grace
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        # New handshakes are refused at once; the listener stays open until polling
        # clients between two requests have fetched their CLOSE packet (their next GET
        # may come on a new TCP connection).
        self.engine.draining = True
        self.engine.close_all(CloseReason.SERVER_SHUTDOWN)
        await self.engine.farewells_delivered(wait)
        listener = self._listener
        if listener is not None:
            listener.close()
        if self._router is not None:
            # Clients answer the close frames within milliseconds; a peer that does not
            # is cut off when the grace period ends, so shutdown never hangs on it.
            await close_connections(self._router, max(0.0, deadline - loop.time()))
        if listener is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.wait_closed(), 1.0)
        for namespace in self._all_namespaces():
            await namespace.adapter.close()
        if self.broker is not None:
            await self.broker.close()
        if self._lifespan is not None:
            await self._lifespan.shutdown()
        self._stopped.set()
