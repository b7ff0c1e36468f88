"""The ``/admin`` namespace the admin UI talks to, and what it reports and obeys.

Everything the UI sees is emitted to ``/admin`` as a broadcast, so it goes through the
namespace's adapter and reaches admin sockets on every node of a cluster; the commands
act through the broadcast operator, so they reach sockets on every node too.

Cost: with ``admin_ui`` off nothing here exists. In production mode only
``server_stats`` runs (every 2 s, from the metrics' counters). In development mode each
socket gets a ``connection`` listener, a catch-all event listener and a ``disconnect``
listener that report to the UI, and each namespace a room watcher: a cost per incoming
event and per room change, as in Node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from socket import gethostname
from typing import Any, Final

from baatcheet.admin.auth import AdminAuth, SessionStore
from baatcheet.admin.serialize import (
    ADMIN_KEY,
    admin_data,
    now_iso,
    serialize_remote,
    serialize_socket,
)
from baatcheet.admin.stats import StatsSampler
from baatcheet.engine.session import TransportName
from baatcheet.settings import Settings
from baatcheet.sio import Server
from baatcheet.sio.broadcast import BroadcastOperator
from baatcheet.sio.namespace import Namespace
from baatcheet.sio.socket import Socket

__all__ = ["ADMIN_NAMESPACE", "STATS_INTERVAL_S", "AdminUI", "instrument"]

log = logging.getLogger(__name__)

ADMIN_NAMESPACE: Final = "/admin"
STATS_INTERVAL_S: Final = 2.0
"""admin-ui's period; the UI calls a node unhealthy after 10 s without its stats."""
_COMMANDS: Final = ("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")


def instrument(server: Server, settings: Settings | None = None) -> AdminUI:
    """Serve the admin UI's namespace on ``server``; call once every namespace exists.

    Call from a coroutine (the stats start at once), and :meth:`AdminUI.close` before
    the server shuts down. Namespaces created later are listed in the stats but, in
    development mode, their sockets are not reported one by one.

    Raises:
        ConfigurationError: ``settings.admin_password_hash`` is not a bcrypt hash.
    """
    return AdminUI(server, settings or server.settings)


class AdminUI:
    """What :func:`instrument` sets up; :meth:`close` stops the stats."""

    def __init__(self, server: Server, settings: Settings) -> None:
        self._server = server
        self.development = settings.admin_mode == "development"
        self.sessions = SessionStore()
        self.namespace: Namespace = server.of(ADMIN_NAMESPACE)
        self._auth = AdminAuth(settings.admin_username, settings.admin_password_hash, self.sessions)
        self.namespace.use(self._auth)
        features = [] if settings.admin_readonly else list(_COMMANDS)
        features.append("AGGREGATED_EVENTS")
        if self.development:
            features.append("ALL_EVENTS")
        self.supported_features: tuple[str, ...] = tuple(features)
        self.stats = StatsSampler(self._server_id, server.metrics, self._clients, self._namespaces)
        self.namespace.on("connection", self._on_admin_connection)
        if self.development:
            rooms = _RoomReporter(self.namespace)
            for namespace in list(server.namespaces.values()):
                namespace.on("connection", self._watcher(namespace))
                namespace.room_watcher = rooms
        self._ticker = asyncio.get_running_loop().create_task(self._report_stats())

    async def close(self) -> None:
        """Stop sending ``server_stats`` (before the server's adapters close)."""
        self._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ticker

    # -- stats ---------------------------------------------------------------------------

    def _server_id(self) -> str:
        """``host:port``: unique per node even with several nodes on one host."""
        return f"{gethostname()}:{self._server.port}"

    def _clients(self) -> tuple[int, int]:
        sessions = self._server.engine.sessions.values()
        polling = sum(1 for session in sessions if session.transport is TransportName.POLLING)
        return len(sessions), polling

    def _namespaces(self) -> list[tuple[str, int]]:
        return [(name, len(nsp.sockets)) for name, nsp in self._server.namespaces.items()]

    async def _report_stats(self) -> None:
        while True:
            try:
                self.namespace.emit("server_stats", self.stats.sample())
            except Exception:
                # A cluster hiccup must not end the reports: the next tick tries again.
                log.exception("could not send server_stats to the admin UI")
            await asyncio.sleep(STATS_INTERVAL_S)

    # -- the admin sockets ---------------------------------------------------------------

    async def _on_admin_connection(self, socket: Socket) -> None:
        session_id = self._auth.issued(socket)
        if session_id is not None:
            socket.emit("session", session_id)
        if "JOIN" in self.supported_features:
            self._register_commands(socket)
        socket.emit("config", {"supportedFeatures": list(self.supported_features)})
        if self.development:
            sockets = await self._all_sockets()
            if socket.connected:
                socket.emit("all_sockets", sockets)

    async def _all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace, on every node (``fetch_sockets``)."""
        namespaces = list(self._server.namespaces.values())
        # This node's sockets may have upgraded since they connected: refresh their transport.
        for namespace in namespaces:
            for local in namespace.sockets.values():
                if ADMIN_KEY in local.data:
                    local.data[ADMIN_KEY] = admin_data(local)
        found = await asyncio.gather(
            *(namespace.fetch_sockets() for namespace in namespaces), return_exceptions=True
        )
        sockets: list[dict[str, Any]] = []
        for namespace, result in zip(namespaces, found, strict=True):
            if isinstance(result, BaseException):
                log.warning(
                    "admin UI: could not list the sockets of %s: %s", namespace.name, result
                )
                continue
            sockets.extend(serialize_remote(remote, namespace.name) for remote in result)
        return sockets

    def _target(self, nsp: Any, filter_: Any) -> BroadcastOperator | None:
        """The sockets of namespace ``nsp`` (in room ``filter_`` if given), cluster-wide."""
        namespace = self._server.namespaces.get(nsp) if isinstance(nsp, str) else None
        if namespace is None:
            return None
        operator = BroadcastOperator(namespace)
        return operator.in_(filter_) if isinstance(filter_, str) and filter_ else operator

    def _register_commands(self, socket: Socket) -> None:
        """The UI's commands; ``filter_`` is a room name, or a socket id to aim at one."""

        def join(nsp: Any = None, room: Any = None, filter_: Any = None, *_: Any) -> None:
            target = self._target(nsp, filter_)
            if target is not None and isinstance(room, str):
                target.sockets_join(room)

        def leave(nsp: Any = None, room: Any = None, filter_: Any = None, *_: Any) -> None:
            target = self._target(nsp, filter_)
            if target is not None and isinstance(room, str):
                target.sockets_leave(room)

        def disconnect(nsp: Any = None, close: Any = False, filter_: Any = None, *_: Any) -> None:
            target = self._target(nsp, filter_)
            if target is not None:
                target.disconnect_sockets(bool(close))

        def emit(nsp: Any = None, filter_: Any = None, event: Any = None, *args: Any) -> None:
            target = self._target(nsp, filter_)
            if target is not None and isinstance(event, str):
                try:
                    target.emit(event, *args)
                except ValueError:
                    log.info("admin UI: refused to emit reserved event %r", event)

        socket.on("join", join)
        socket.on("leave", leave)
        socket.on("_disconnect", disconnect)
        socket.on("emit", emit)

    # -- development mode: every socket's life -------------------------------------------

    def _watcher(self, namespace: Namespace) -> Any:
        admin = self.namespace
        name = namespace.name
        report_events = namespace is not admin

        def on_connection(socket: Socket) -> None:
            socket.data.setdefault(ADMIN_KEY, admin_data(socket))
            admin.emit("socket_connected", serialize_socket(socket), now_iso())
            if report_events:

                def on_any(event: str, *args: Any) -> None:
                    admin.emit("event_received", name, socket.id, [event, *args], now_iso())

                def on_any_outgoing(event: str, *args: Any) -> None:
                    admin.emit("event_sent", name, socket.id, [event, *args], now_iso())

                socket.on_any(on_any)
                socket.on_any_outgoing(on_any_outgoing)

            def on_disconnect(reason: str) -> None:
                admin.emit("socket_disconnected", name, socket.id, reason, now_iso())

            socket.on("disconnect", on_disconnect)

        return on_connection


class _RoomReporter:
    """Reports room changes to the UI (a ``RoomWatcher`` for every watched namespace)."""

    __slots__ = ("_admin",)

    def __init__(self, admin: Namespace) -> None:
        self._admin = admin

    def room_joined(self, namespace: str, room: str, sid: str) -> None:
        self._admin.emit("room_joined", namespace, room, sid, now_iso())

    def room_left(self, namespace: str, room: str, sid: str) -> None:
        self._admin.emit("room_left", namespace, room, sid, now_iso())
