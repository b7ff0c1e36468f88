"""The Socket.IO server: namespaces over the Engine.IO server, attached to a listener."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from baatcheet.adapters.adapter_memory import MemoryAdapter
from baatcheet.adapters.base import AdapterFactory
from baatcheet.engine.asgi_bridge import AsgiApp
from baatcheet.engine.asgi_entry import AsgiEntry
from baatcheet.engine.http import HttpRequest, Responder
from baatcheet.engine.observer import NO_ENGINE_OBSERVER
from baatcheet.engine.server import AllowRequest, EngineServer
from baatcheet.engine.session import CloseReason, EngineSession, SessionHandler
from baatcheet.listener import NO_LISTENER_OBSERVER, Health, Listener
from baatcheet.listener.client_bundle import ClientBundle
from baatcheet.listener.websocket_route import PlainWebSocketHandler, WebSocketRoute
from baatcheet.metrics import Metrics
from baatcheet.settings import Settings
from baatcheet.sio.broadcast import BroadcastOperator, BroadcastTargets
from baatcheet.sio.client import Client, ClientLimits
from baatcheet.sio.error_ack import ErrorAck, plain_error_ack
from baatcheet.sio.namespace import (
    DynamicNamespace,
    Namespace,
    NamespaceMatcher,
    Registration,
    Registry,
)
from baatcheet.sio.observer import NO_SERVER_OBSERVER, ServerObserver

if TYPE_CHECKING:
    from baatcheet.adapters.broker_redis import RedisBroker

__all__ = ["Server"]

log = logging.getLogger(__name__)


class Server(BroadcastTargets, Registration):
    """A Socket.IO v5 server, attached to a :class:`~baatcheet.listener.Listener`.

    The server mounts its Engine.IO path, ``/healthz``, ``/readyz`` and (with
    ``settings.metrics``) ``/metrics`` on the listener, and drives the listener's life
    from :meth:`start` and :meth:`shutdown`.

    Args:
        settings: Every option (port, timeouts, limits, CORS…).
        app: An ASGI application that answers every HTTP request outside the paths
            mounted on the listener (REST API, static files).
        adapter_factory: Builds each namespace's adapter. By default the Redis adapter
            when ``settings.redis_url`` is set (one broker shared by every namespace,
            connected in :meth:`start`), else the in-memory one.
        allow_request: Called with each handshake request; False refuses it (403).
        listener: The listener to attach to; by default a new one for ``settings`` and
            ``app`` (pass ``app`` to your own listener instead).
        error_ack: Builds the ack argument whenever a namespace answers in a handler's
            place (unknown event, ``EventError``, a failed handler, rate limit); by
            default ``{"error": code, "message": message}``. Each namespace starts
            with it and may set its own (``namespace.error_ack``).
        sock: A socket already bound and listening, for the new listener to serve
            instead of binding ``settings.port``: bound before the slow part of start-up,
            it queues early clients rather than refusing them
            (:class:`~baatcheet.listener.Listener` says how).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        app: AsgiApp | None = None,
        adapter_factory: AdapterFactory | None = None,
        allow_request: AllowRequest | None = None,
        listener: Listener | None = None,
        error_ack: ErrorAck = plain_error_ack,
        sock: socket.socket | None = None,
    ) -> None:
        self.settings = settings or Settings()
        if listener is not None and (app is not None or sock is not None):
            raise TypeError("give the app and socket to the listener you pass, not to the server")
        self.metrics: Metrics | None = Metrics() if self.settings.metrics else None
        """This node's counters (None with ``settings.metrics`` off)."""
        self._observer: ServerObserver = (
            self.metrics.server if self.metrics is not None else NO_SERVER_OBSERVER
        )
        self.listener = listener or Listener(
            self.settings,
            app=app,
            observer=self.metrics.listener if self.metrics is not None else NO_LISTENER_OBSERVER,
            sock=sock,
        )
        self.app = self.listener.app
        self.broker: RedisBroker | None = None
        """This server's link to the cluster, when the adapter is chosen from settings."""
        if adapter_factory is None:
            if self.settings.redis_url:
                # Loaded only here: the Redis client costs about as much start-up CPU as
                # the rest of the server, and a restarted single node that spends it
                # refuses its reconnecting clients for longer (each then backs off).
                from baatcheet.adapters.adapter_redis import redis_adapter_factory  # noqa: PLC0415
                from baatcheet.adapters.broker_redis import RedisBroker  # noqa: PLC0415

                self.broker = RedisBroker.from_settings(self.settings)
                adapter_factory = redis_adapter_factory(self.broker)
            else:
                adapter_factory = MemoryAdapter
        if self.broker is not None and self.metrics is not None:
            self.broker.observer = self.metrics.cluster
        self._adapter_factory = adapter_factory
        self._error_ack = error_ack
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
        self.engine = EngineServer(
            self.settings,
            self._on_engine_connection,
            allow_request,
            observer=self.metrics.engine if self.metrics is not None else NO_ENGINE_OBSERVER,
        )
        self.listener.mount_engine(settings.socketio_path, self.engine)
        self.health = Health(lambda: self.listener.draining, settings.health_timeout_s)
        """``/healthz`` and ``/readyz``; add a dependency with ``health.add_check``."""
        self.listener.mount_http("/healthz", self.health.healthz)
        self.listener.mount_http("/readyz", self.health.readyz)
        if settings.serve_client:
            # As Node's server does: pages load the client from the server they talk to.
            bundle = ClientBundle.from_dist_dir(settings.client_dist_dir)
            bundle.mount(self.listener.mount_http, settings.socketio_path)
        if self.metrics is not None:
            self.listener.mount_http("/metrics", self._serve_metrics)
        if self.broker is not None:
            self.health.add_check("redis", self.broker.ping)
        self._stopped = asyncio.Event()
        self.of("/")

    # -- namespaces ----------------------------------------------------------------------

    @overload
    def of(self, name: str) -> Namespace: ...
    @overload
    def of(self, name: NamespaceMatcher) -> DynamicNamespace: ...
    def of(self, name: str | NamespaceMatcher) -> Namespace | DynamicNamespace:
        """The namespace ``name``, created if needed; a regex or callable makes a dynamic family.

        A name without its leading ``/`` gets one. Each call with a regex or callable
        makes a new family, matched after every static namespace, in the order made.
        """
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            namespace = self.namespaces.get(name)
            if namespace is None:
                namespace = Namespace(
                    name, self._adapter_factory, error_ack=self._error_ack, observer=self._observer
                )
                self.namespaces[name] = namespace
            return namespace
        family = DynamicNamespace(
            name, self._adapter_factory, error_ack=self._error_ack, observer=self._observer
        )
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

    def _registry(self) -> Registry:
        """``use`` and ``on`` register on ``/``."""
        return self.main._registry()

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
        return AsgiEntry(
            self.engine,
            self.settings.socketio_path,
            self.listener.websocket_endpoints,
            fallback if fallback is not None else self.app,
        )

    def websocket(self, path: str) -> Callable[[PlainWebSocketHandler], PlainWebSocketHandler]:
        """Decorator: serve plain WebSocket connections to ``path`` with the decorated coroutine.

        ``async def handler(ws: PlainWebSocket) -> None`` runs once per connection, under
        the server's origin policy and ``max_payload_bytes``; see
        :mod:`baatcheet.listener.websocket_route`.
        """

        def register(handler: PlainWebSocketHandler) -> PlainWebSocketHandler:
            route = WebSocketRoute.from_settings(handler, self.settings)
            self.listener.mount_websocket(path, route)
            return handler

        return register

    # -- engine callback -----------------------------------------------------------------

    def _on_engine_connection(self, session: EngineSession) -> SessionHandler:
        return Client(session, self._lookup, self._client_limits, self._observer)

    def _serve_metrics(self, request: HttpRequest, responder: Responder) -> None:
        assert self.metrics is not None  # mounted only with metrics on
        body, content_type = self.metrics.render(request.header(b"accept"))
        headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")]
        responder.respond(200, headers, body)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        return self.listener.port

    async def start(self) -> None:
        """Join the cluster (if any), get the namespaces ready, then start the listener.

        Raises:
            ClusterUnavailableError: ``redis_url`` is set and Redis cannot be reached.
        """
        if self.broker is not None:
            await self.broker.connect()
        for namespace in list(self.namespaces.values()):
            await namespace.ensure_ready()
        await self.listener.start()
        if self.metrics is not None:
            self.metrics.start()

    async def serve(self) -> None:
        """Start, then run until :meth:`shutdown` is called."""
        await self.start()
        await self._stopped.wait()

    async def shutdown(self, grace: float | None = None) -> None:
        """Drain: finish what clients sent, tell them to reconnect elsewhere, stop.

        1. ``/readyz`` answers 503 and handshakes are refused (503), so a balancer and
           reconnecting clients go to another node.
        2. Nothing more is read from connected clients; handlers already running finish
           (at most half the grace), so their acks go out.
        3. Every connection is closed with a CLOSE packet: clients see ``transport
           close`` and reconnect, to another node or to this one once it is back. Polling
           clients get the rest of the grace to fetch theirs.
        4. The listener stops; HTTP requests in flight get what is left of the grace, then
           whatever is still open is aborted.

        Args:
            grace: Seconds the whole drain may take (``settings.shutdown_grace_s``).
        """
        wait = self.settings.shutdown_grace_s if grace is None else grace
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        self.listener.begin_drain()
        self.engine.draining = True
        await self._finish_handlers(wait / 2)
        self.engine.close_all(CloseReason.SERVER_SHUTDOWN)
        await self.engine.farewells_delivered(max(0.0, deadline - loop.time()))
        # Clients answer the close frames within milliseconds; a peer that does not is
        # cut off when the grace period ends, so shutdown never hangs on it.
        await self.listener.close(max(0.0, deadline - loop.time()))
        for namespace in self._all_namespaces():
            await namespace.adapter.close()
        if self.broker is not None:
            await self.broker.close()
        if self.metrics is not None:
            self.metrics.stop()
        self._stopped.set()

    async def _finish_handlers(self, budget: float) -> None:
        """Stop reading from every client; wait (at most ``budget`` s) for their handlers."""
        waits = [
            session.handler.stop_reading()
            for session in list(self.engine.sessions.values())
            if isinstance(session.handler, Client)
        ]
        running = [wait for wait in waits if not wait.done()]
        if running:
            await asyncio.wait(running, timeout=budget)
