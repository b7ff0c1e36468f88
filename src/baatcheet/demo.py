"""The open ``/`` namespace: the curriculum's first Socket.IO chat, unchanged on the wire.

A page that does ``io()`` and ``socket.emit('chat message', text)`` sees every
message re-emitted to everyone, exactly like the Node/Express example, so the
curriculum's ``index.html`` works against ``baatcheet serve`` as written.
"""

from __future__ import annotations

from typing import Any

from baatcheet.sio import Server, Socket

__all__ = ["register_demo"]


def register_demo(server: Server) -> None:
    """Re-emit ``chat message`` to every client of ``/``."""

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("chat message")
        def on_chat_message(message: Any) -> None:
            server.emit("chat message", message)
