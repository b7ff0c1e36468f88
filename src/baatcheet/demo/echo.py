"""The plain WebSocket echo (``/ws``) for clients that use ``new WebSocket(...)``.

Demo code: it behaves like the curriculum's first ``ws`` server, a welcome message on
connect and an echo receipt for every message, so the browser-side lifecycle events
(``onopen``, ``onmessage``, ``onclose``) can be tried without Socket.IO. It is written as
any user's plain WebSocket handler would be (``server.websocket(path)``); ``baatcheet
serve`` mounts it at ``ws_path`` (:func:`mount_echo`), a bare server does not have it.
"""

from __future__ import annotations

from baatcheet.listener.websocket_route import PlainWebSocket, WebSocketRoute
from baatcheet.sio import Server

__all__ = ["WELCOME", "echo", "mount_echo", "receipt_for"]

WELCOME = "Welcome! Aap server se jud gaye hain."


def receipt_for(message: str | bytes) -> str:
    """The echo receipt sent back for ``message``."""
    shown = message if isinstance(message, str) else f"<{len(message)} bytes>"
    return "Server ne aapka message receive kar liya: " + shown


async def echo(ws: PlainWebSocket) -> None:
    """Welcome the client, then answer each of its messages with a receipt until it leaves."""
    ws.send(WELCOME)
    async for message in ws:
        ws.send(receipt_for(message))


def mount_echo(server: Server) -> WebSocketRoute:
    """Serve :func:`echo` at ``server.settings.ws_path``; the route counts its connections.

    The same as decorating :func:`echo` with ``server.websocket(ws_path)``, but the route
    is returned so its open connections can be read.
    """
    route = WebSocketRoute.from_settings(echo, server.settings)
    server.listener.mount_websocket(server.settings.ws_path, route)
    return route
