"""Serve the official socket.io-client bundle at ``/socket.io/socket.io.js``, as Node's server does.

Pages written for Node's socket.io load ``<script src="/socket.io/socket.io.js">`` from the
server itself, so Baatcheet serves the same files. They are not vendored: ``clientjs/``
pins ``socket.io-client`` with an npm lock file and ``scripts/install`` installs it, so the
served client is exactly the version the test suite drives.

Responses carry a content-hash ETag and ``Cache-Control: public, max-age=0``: browsers keep
their copy and revalidate it with ``If-None-Match``, which costs a 304 and no body.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from baatcheet.settings import Settings

__all__ = ["CLIENT_FILES", "DEFAULT_DIST_DIR", "ClientBundle", "client_bundle_routes"]

_JS = "application/javascript; charset=utf-8"
_JSON = "application/json; charset=utf-8"
_CACHE_CONTROL = "public, max-age=0"

_Endpoint = Callable[[Request], Awaitable[Response]]

CLIENT_FILES: dict[str, str] = {
    "socket.io.js": _JS,
    "socket.io.js.map": _JSON,
    "socket.io.min.js": _JS,
    "socket.io.min.js.map": _JSON,
    "socket.io.esm.min.js": _JS,
    "socket.io.esm.min.js.map": _JSON,
}
"""File name in the package's ``dist/`` → the content type it is served with."""

DEFAULT_DIST_DIR = (
    Path(__file__).resolve().parents[3] / "clientjs" / "node_modules" / "socket.io-client" / "dist"
)
"""Where ``scripts/install`` puts the pinned client in a checkout."""


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    etag: str
    media_type: str


def _read_asset(path: Path, media_type: str) -> _Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return _Asset(body=body, etag=f'"{digest}"', media_type=media_type)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of an ``If-None-Match`` list against our ETag (RFC 9110 §13.1.2)."""
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return any(tag in ("*", etag) for tag in candidates)


class ClientBundle:
    """The client files of one ``dist/`` folder, read once on first request.

    A missing folder is not cached, so running ``scripts/install`` while the server runs
    makes the files appear without a restart. Once read, a file is served from memory: the
    installed client only changes when the server is redeployed.
    """

    def __init__(self, dist_dir: Path) -> None:
        self.dist_dir = dist_dir
        self._assets: dict[str, _Asset] = {}

    async def _asset(self, name: str) -> _Asset | None:
        asset = self._assets.get(name)
        if asset is not None:
            return asset
        path = self.dist_dir / name
        try:
            # Reading ~150 kB would stall the event loop; do it in a thread, once.
            asset = await asyncio.to_thread(_read_asset, path, CLIENT_FILES[name])
        except FileNotFoundError:
            return None
        self._assets[name] = asset
        return asset

    async def serve(self, request: Request, name: str) -> Response:
        """Answer a GET or HEAD for ``name``: the file, a 304, or a 404 that says what to do."""
        asset = await self._asset(name)
        if asset is None:
            return PlainTextResponse(
                f"{name} is not installed: {self.dist_dir} is missing it. Run scripts/install"
                " (it installs socket.io-client under clientjs/), or point"
                " BAATCHEET_CLIENT_DIST_DIR at a socket.io-client dist/ folder.\n",
                status_code=404,
            )
        headers = {"ETag": asset.etag, "Cache-Control": _CACHE_CONTROL}
        if _etag_matches(request.headers.get("if-none-match", ""), asset.etag):
            return Response(status_code=304, headers=headers)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(asset.body))
            return Response(media_type=asset.media_type, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    def routes(self, prefix: str) -> list[Route]:
        """One GET/HEAD route per file in ``CLIENT_FILES``, under ``prefix`` (``/socket.io``)."""
        base = prefix.rstrip("/")
        return [
            Route(f"{base}/{name}", self._endpoint(name), methods=["GET", "HEAD"], name=name)
            for name in CLIENT_FILES
        ]

    def _endpoint(self, name: str) -> _Endpoint:
        async def endpoint(request: Request) -> Response:
            return await self.serve(request, name)

        return endpoint


def client_bundle_routes(settings: Settings) -> list[Route]:
    """Routes serving the client under ``settings.socketio_path``; none if ``serve_client`` is off.

    The folder is ``settings.client_dist_dir`` when set, else ``DEFAULT_DIST_DIR``.
    """
    if not settings.serve_client:
        return []
    bundle = ClientBundle(settings.client_dist_dir or DEFAULT_DIST_DIR)
    return bundle.routes(settings.socketio_path)
