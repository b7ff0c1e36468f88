"""The plain WebSocket echo (``/ws``) for clients that use ``new WebSocket(...)``.

Demo code: it behaves like the curriculum's first ``ws`` server, a welcome message on
connect and an echo receipt for every message, so the browser-side lifecycle events
(``onopen``, ``onmessage``, ``onclose``) can be tried without Socket.IO. ``baatcheet
serve`` mounts it at ``ws_path`` (:func:`mount_echo`); a bare server does not have it.
"""

from __future__ import annotations

from baatcheet.engine.cors import OriginPolicy
from baatcheet.engine.http import HttpRequest
from baatcheet.engine.server import Upgrader
from baatcheet.sio import Server

__all__ = ["WELCOME", "RawWebSocketEndpoint", "mount_echo", "receipt_for"]

WELCOME = "Welcome! Aap server se jud gaye hain."


def receipt_for(message: str | bytes) -> str:
    """The echo receipt sent back for ``message``."""
    shown = message if isinstance(message, str) else f"<{len(message)} bytes>"
    return "Server ne aapka message receive kar liya: " + shown


class RawWebSocketEndpoint:
    """Accepts plain WebSocket connections under the same origin policy as Socket.IO."""

    def __init__(self, origins: OriginPolicy, max_message_bytes: int) -> None:
        self._origins = origins
        self._max_message_bytes = max_message_bytes
        self.connections = 0
        """Open connections right now (exported as a metric)."""

    def __call__(self, request: HttpRequest, upgrader: Upgrader) -> None:
        if not self._origins.allows(request.header(b"origin"), request):
            upgrader.reject(403, [(b"content-type", b"text/plain")], b"origin or host not allowed")
            return
        ws = upgrader.accept(self._max_message_bytes)
        if ws is None:
            return
        self.connections += 1

        def on_message(message: str | bytes) -> None:
            ws.send_text(receipt_for(message))

        def on_close(code: int, reason: str) -> None:
            del code, reason
            self.connections -= 1

        ws.on_message = on_message
        ws.on_close = on_close
        ws.send_text(WELCOME)


def mount_echo(server: Server) -> RawWebSocketEndpoint:
    """Serve the echo at ``server.settings.ws_path`` under the server's origin policy."""
    settings = server.settings
    endpoint = RawWebSocketEndpoint(
        OriginPolicy.from_settings(settings), settings.max_payload_bytes
    )
    server.listener.mount_websocket(settings.ws_path, endpoint)
    return endpoint
