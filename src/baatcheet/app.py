"""Composition root: Settings → store → chat services → HTTP app → realtime server.

The server brings its own listener, health endpoints and metrics; this module adds the
product on top: the chat namespace (observed by the metrics, its database a readiness
check), the REST API and web client, and the demo code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from baatcheet.admin import AdminUI, instrument
from baatcheet.assets import ADMIN_UI_ASSET, ASSETS_DIR, WEB_ASSET, find_folder
from baatcheet.chat.handlers import register_chat
from baatcheet.chat.observer import NO_CHAT_OBSERVER
from baatcheet.chat.service import ChatService
from baatcheet.demo import mount_echo, register_demo
from baatcheet.settings import Settings
from baatcheet.sio import Server
from baatcheet.web.api import api_routes

__all__ = ["RunningApp", "attach_chat", "build_http_app", "open_app"]

STATIC_DIR = Path(__file__).parent / "static"
WEB_DIRS = (ASSETS_DIR / WEB_ASSET, STATIC_DIR / "web")
"""Where the built React client is looked for: the wheel's copy, then a checkout's build."""


def _web_client_routes() -> list[BaseRoute]:
    """The built React client at ``/``, or a page saying how to build it."""
    demo = Route("/demo", lambda request: FileResponse(STATIC_DIR / "demo.html"))
    folder = find_folder(WEB_DIRS, "index.html")
    if folder is not None:
        return [demo, Mount("/", StaticFiles(directory=folder, html=True), name="web")]

    async def not_built(request: Request) -> Response:
        del request
        return PlainTextResponse(
            "The web client is not built yet: a wheel of baatcheet carries it; in a checkout,"
            " run scripts/serve (it builds web/ with npm).",
            status_code=503,
        )

    return [demo, Route("/", not_built)]


def _admin_ui_routes(settings: Settings) -> list[BaseRoute]:
    """The admin UI's built files at ``settings.admin_path``, or a page saying how to get them.

    ``admin_ui_dir`` is looked in first, then the copy a wheel carries.
    """
    configured = settings.admin_ui_dir
    folder = find_folder((configured, ASSETS_DIR / ADMIN_UI_ASSET), "index.html")
    # The page's asset URLs are relative: the bare path must become the folder's.
    slash = Route(settings.admin_path, lambda request: RedirectResponse(settings.admin_path + "/"))
    if folder is not None:
        return [slash, Mount(settings.admin_path, StaticFiles(directory=folder, html=True))]

    async def not_installed(request: Request) -> Response:
        del request
        return PlainTextResponse(
            f"The admin UI is not installed at {configured}: run scripts/install.",
            status_code=503,
        )

    return [slash, Mount(settings.admin_path, routes=[Route("/{path:path}", not_installed)])]


def build_http_app(settings: Settings, chat: ChatService) -> Starlette:
    """The ASGI app hosted beside the realtime endpoints (API, admin UI, web client).

    ``/socket.io/socket.io.js`` is not here: the server itself serves it.
    """
    routes: list[BaseRoute] = [*api_routes(chat)]
    if settings.admin_ui:
        routes.extend(_admin_ui_routes(settings))
    routes.extend(_web_client_routes())
    return Starlette(routes=routes)


@dataclass(slots=True)
class RunningApp:
    """Everything ``baatcheet serve`` runs, for orderly shutdown."""

    server: Server
    chat: ChatService
    admin: AdminUI | None = None

    @property
    def url(self) -> str:
        """Where the server listens."""
        settings = self.server.settings
        scheme = "https" if settings.tls_certfile else "http"
        return f"{scheme}://{settings.host}:{self.server.port}"

    async def close(self) -> None:
        """Drain the server (handlers finish, clients are sent elsewhere), then flush and
        close the database: every write a client was acknowledged is committed."""
        if self.admin is not None:
            await self.admin.close()
        await self.server.shutdown()
        await self.chat.close()


def attach_chat(server: Server, chat: ChatService) -> None:
    """Serve ``/chat`` from ``chat`` on ``server``, observed and health-checked.

    The metrics (when on) count its messages and its store's group commits, and
    ``/readyz`` answers 503 while the database does not answer.
    """
    metrics = server.metrics
    register_chat(server, chat, metrics.chat if metrics is not None else NO_CHAT_OBSERVER)
    if metrics is not None:
        chat.store.observe_commits(metrics.commits)
    server.health.add_check("database", chat.store.ping)


async def open_app(settings: Settings) -> RunningApp:
    """Open the database and build the server (not yet listening: call ``server.start()``)."""
    chat = await ChatService.open(settings)
    server = Server(settings, app=build_http_app(settings, chat))
    register_demo(server, settings)
    mount_echo(server)
    attach_chat(server, chat)
    # Last, so the admin UI sees every namespace above.
    admin = instrument(server, settings) if settings.admin_ui else None
    return RunningApp(server=server, chat=chat, admin=admin)
