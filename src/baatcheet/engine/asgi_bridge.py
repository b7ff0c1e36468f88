"""Runs a hosted ASGI application for the requests the realtime server does not own.

Only what the hosted app needs: HTTP requests with a complete body, responses
streamed back (chunked when the app gives no length), and the lifespan protocol so
the app's start-up and shut-down hooks run with the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from baatcheet.engine.http import HttpRequest, Responder

__all__ = ["AsgiApp", "Lifespan", "run_asgi_request"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ASGI = {"version": "3.0", "spec_version": "2.3"}


async def run_asgi_request(
    app: AsgiApp, request: HttpRequest, responder: Responder, state: dict[str, object]
) -> None:
    """Call ``app`` for ``request`` and send its whole response through ``responder``."""
    path = request.path
    scope: Scope = {
        "type": "http",
        "asgi": _ASGI,
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": request.query_string.encode("latin-1"),
        "root_path": "",
        "headers": request.headers,
        "client": request.client,
        "server": None,
        "state": state.copy(),
    }
    body_sent = False
    disconnected = asyncio.Event()
    responder.on_abort(disconnected.set)

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [
                (bytes(name).lower(), bytes(value))
                for name, value in message.get("headers", [])
                if bytes(name).lower() != b"content-length"
            ]
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                responder.respond(status, headers, b"".join(chunks))

    try:
        await app(scope, receive, send)
    except Exception:
        log.exception("hosted app failed on %s %s", request.method, path)
        responder.respond(500, [(b"content-type", b"text/plain")], b"internal server error")
    else:
        if not responder.answered:
            responder.respond(500, [(b"content-type", b"text/plain")], b"app sent no response")


class Lifespan:
    """Drives the ASGI lifespan protocol of a hosted app."""

    def __init__(self, app: AsgiApp, state: dict[str, object]) -> None:
        self._app = app
        self._state = state
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failed: str | None = None
        self._supported = True
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Run the app's start-up; raises RuntimeError if it reported a failure."""
        self._task = asyncio.create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        await self._started.wait()
        if self._failed is not None:
            raise RuntimeError(f"hosted app failed to start: {self._failed}")

    async def shutdown(self) -> None:
        """Run the app's shut-down hooks."""
        if self._task is None or not self._supported:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._stopped.wait()
        await self._task

    async def _run(self) -> None:
        scope: Scope = {"type": "lifespan", "asgi": _ASGI, "state": self._state}

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                self._started.set()
            elif kind == "lifespan.startup.failed":
                self._failed = str(message.get("message", ""))
                self._started.set()
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                self._stopped.set()

        try:
            await self._app(scope, self._inbox.get, send)
        except Exception:
            if not self._started.is_set():
                self._supported = False
        self._started.set()
        self._stopped.set()
