"""The open ``/`` namespace: the curriculum's first Socket.IO chat, unchanged on the wire.

A page that does ``io()`` and ``socket.emit('chat message', text)`` sees every message
re-emitted to everyone, exactly like the Node/Express example, so the curriculum's
``index.html`` works against ``baatcheet serve`` as written.

It is open to anyone without an account and every message fans out to every listener,
so it is off unless ``Settings.demo_namespace`` is set; when off, ``/`` refuses sockets
with a ``connect_error`` that says how to turn it on (the ``/demo`` page shows it). When
on, each client may send ``demo_messages_per_s`` messages per second; more are dropped
(an ack, if asked for, says ``rate_limited``).
"""

from __future__ import annotations

import time
from typing import Any

from baatcheet.errors import ConnectRejected, EventError
from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket

__all__ = ["DEMO_OFF_MESSAGE", "register_demo"]

DEMO_OFF_MESSAGE = (
    "the open demo is off on this server: start it with --demo-namespace"
    " (or BAATCHEET_DEMO_NAMESPACE=true)"
)


def register_demo(server: Server, settings: Settings) -> None:
    """Re-emit ``chat message`` to every client of ``/``, or refuse ``/`` when it is off."""
    if not settings.demo_namespace:

        @server.use
        def demo_is_off(socket: Socket) -> None:
            del socket
            raise ConnectRejected(DEMO_OFF_MESSAGE, {"code": "demo_off"})

        return
    rate = settings.demo_messages_per_s
    burst = max(1.0, 2 * rate)

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        tokens = burst
        stamp = time.monotonic()

        @socket.on("chat message")
        def on_chat_message(message: Any) -> None:
            nonlocal tokens, stamp
            now = time.monotonic()
            tokens = min(burst, tokens + (now - stamp) * rate)
            stamp = now
            if tokens < 1.0:
                raise EventError("rate_limited", f"at most {rate:g} demo messages per second")
            tokens -= 1.0
            server.emit("chat message", message)
