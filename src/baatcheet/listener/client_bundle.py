"""Serve the official socket.io-client bundle at ``/socket.io/socket.io.js``, as Node's server does.

Pages written for Node's socket.io load ``<script src="/socket.io/socket.io.js">`` from the
server itself, so every :class:`~baatcheet.sio.Server` with ``serve_client`` on mounts these
files on its listener, a user's own server as much as ``baatcheet serve``. They are not
vendored in git: ``clientjs/`` pins ``socket.io-client`` with an npm lock file, so the served
client is exactly the version the test suite drives. A wheel carries a copy (made by
``hatch_build.py``); a checkout serves the one ``scripts/install`` put under ``clientjs/``.

Responses carry a content-hash ETag and ``Cache-Control: public, max-age=0``: browsers keep
their copy and revalidate it with ``If-None-Match``, which costs a 304 and no body.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from baatcheet.assets import ASSETS_DIR, CHECKOUT_ROOT, CLIENT_ASSET, find_folder
from baatcheet.engine.http import HttpRequest, Responder
from baatcheet.listener.routing import HttpHandler

__all__ = ["CHECKOUT_DIST_DIR", "CLIENT_FILES", "PACKAGED_DIST_DIR", "ClientBundle"]

_JS: Final = b"application/javascript; charset=utf-8"
_JSON: Final = b"application/json; charset=utf-8"
_CACHE_CONTROL: Final = b"public, max-age=0"
_TEXT: Final = [(b"content-type", b"text/plain; charset=utf-8")]

CLIENT_FILES: dict[str, bytes] = {
    "socket.io.js": _JS,
    "socket.io.js.map": _JSON,
    "socket.io.min.js": _JS,
    "socket.io.min.js.map": _JSON,
    "socket.io.esm.min.js": _JS,
    "socket.io.esm.min.js.map": _JSON,
}
"""File name in the package's ``dist/`` → the content type it is served with."""

_MountHttp = Callable[[str, HttpHandler], None]

PACKAGED_DIST_DIR = ASSETS_DIR / CLIENT_ASSET
"""Where an installed wheel keeps the client files."""
CHECKOUT_DIST_DIR = CHECKOUT_ROOT / "clientjs" / "node_modules" / "socket.io-client" / "dist"
"""Where ``scripts/install`` puts the pinned client in a checkout."""


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    etag: bytes
    media_type: bytes


def _read_asset(path: Path, media_type: bytes) -> _Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return _Asset(body=body, etag=f'"{digest}"'.encode(), media_type=media_type)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of an ``If-None-Match`` list against our ETag (RFC 9110 §13.1.2)."""
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return any(tag in ("*", etag) for tag in candidates)


class ClientBundle:
    """The client files, looked up in ``folders`` in order and read once on first request.

    A file not found is not cached, so running ``scripts/install`` while the server runs
    makes it appear without a restart. Once read, a file is served from memory: the
    installed client only changes when the server is redeployed.

    Args:
        folders: Where to look, first match wins: the ``client_dist_dir`` setting alone
            when set, else the wheel's copy, then the checkout's.
    """

    def __init__(self, folders: tuple[Path, ...]) -> None:
        self.folders = folders
        self._assets: dict[str, _Asset] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_dist_dir(cls, dist_dir: Path | None) -> ClientBundle:
        """The bundle for the ``client_dist_dir`` setting (None: packaged, then checkout)."""
        if dist_dir is not None:
            return cls((dist_dir,))
        return cls((PACKAGED_DIST_DIR, CHECKOUT_DIST_DIR))

    def mount(self, mount_http: _MountHttp, prefix: str) -> None:
        """Mount one endpoint per file in :data:`CLIENT_FILES` under ``prefix`` (``/socket.io``)."""
        base = prefix.rstrip("/")
        for name in CLIENT_FILES:
            mount_http(f"{base}/{name}", self._endpoint(name))

    def _endpoint(self, name: str) -> HttpHandler:
        def endpoint(request: HttpRequest, responder: Responder) -> None:
            self.serve(request, responder, name)

        return endpoint

    def serve(self, request: HttpRequest, responder: Responder, name: str) -> None:
        """Answer a request for ``name``: the file, a 304, a 405, or a 404 that says what to do."""
        if request.method not in ("GET", "HEAD"):
            responder.respond(405, [*_TEXT, (b"allow", b"GET, HEAD")], b"method not allowed\n")
            return
        asset = self._assets.get(name)
        if asset is not None:
            self._answer(request, responder, asset)
            return
        # Reading ~150 kB would stall the event loop; do it in a thread, once.
        task = asyncio.ensure_future(self._load_and_answer(request, responder, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load_and_answer(self, request: HttpRequest, responder: Responder, name: str) -> None:
        folder = find_folder(self.folders, name)
        if folder is None:
            responder.respond(404, _TEXT, self._missing_message(name))
            return
        asset = await asyncio.to_thread(_read_asset, folder / name, CLIENT_FILES[name])
        self._assets[name] = asset
        self._answer(request, responder, asset)

    def _missing_message(self, name: str) -> bytes:
        looked = ", ".join(str(folder) for folder in self.folders)
        return (
            f"{name} is not installed (looked in {looked}). A wheel of baatcheet carries it;"
            " in a checkout, run scripts/install (it installs socket.io-client under"
            " clientjs/), or point BAATCHEET_CLIENT_DIST_DIR at a socket.io-client dist/"
            " folder.\n"
        ).encode()

    @staticmethod
    def _answer(request: HttpRequest, responder: Responder, asset: _Asset) -> None:
        headers = [(b"etag", asset.etag), (b"cache-control", _CACHE_CONTROL)]
        if _etag_matches(request.header(b"if-none-match") or "", asset.etag.decode()):
            responder.respond(304, headers, b"")
            return
        headers.append((b"content-type", asset.media_type))
        # For a HEAD the listener sends the headers and content-length, not the body.
        responder.respond(200, headers, asset.body)
