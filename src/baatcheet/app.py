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
from baatcheet.chat.handlers import register_chat
from baatcheet.chat.observer import NO_CHAT_OBSERVER
from baatcheet.chat.service import ChatService
from baatcheet.demo import mount_echo, register_demo
from baatcheet.settings import Settings
from baatcheet.sio import Server
from baatcheet.web.api import api_routes
from baatcheet.web.client_bundle import client_bundle_routes

__all__ = ["RunningApp", "attach_chat", "build_http_app", "open_app"]

STATIC_DIR = Path(__file__).parent / "static"
WEB_DIR = STATIC_DIR / "web"


def _web_client_routes() -> list[BaseRoute]:
    """The built React client at ``/``, or a page saying how to build it."""
    demo = Route("/demo", lambda request: FileResponse(STATIC_DIR / "demo.html"))
    if (WEB_DIR / "index.html").is_file():
        return [demo, Mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")]

    async def not_built(request: Request) -> Response:
        del request
        return PlainTextResponse(
            "The web client is not built yet: run scripts/serve (it builds web/ with npm).",
            status_code=503,
        )

    return [demo, Route("/", not_built)]


def _admin_ui_routes(settings: Settings) -> list[BaseRoute]:
    """The admin UI's built files at ``settings.admin_path``, or a page saying how to get them."""
    folder = settings.admin_ui_dir
    # The page's asset URLs are relative: the bare path must become the folder's.
    slash = Route(settings.admin_path, lambda request: RedirectResponse(settings.admin_path + "/"))
    if (folder / "index.html").is_file():
        return [slash, Mount(settings.admin_path, StaticFiles(directory=folder, html=True))]

    async def not_installed(request: Request) -> Response:
        del request
        return PlainTextResponse(
            f"The admin UI is not installed at {folder}: run scripts/install.", status_code=503
        )

    return [slash, Mount(settings.admin_path, routes=[Route("/{path:path}", not_installed)])]


def build_http_app(settings: Settings, chat: ChatService) -> Starlette:
    """The ASGI app hosted beside the realtime endpoints (API, client bundle, web client)."""
    routes: list[BaseRoute] = [*api_routes(chat)]
    if settings.serve_client:
        routes.extend(client_bundle_routes(settings))
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
