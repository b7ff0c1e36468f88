"""The servers the official Engine.IO and Socket.IO conformance suites expect.

The suites in socketio/engine.io-protocol and socketio/socket.io-protocol
(``test-suite/``) are black-box mocha tests; their READMEs describe the Node.js
server each one must face. This app builds the same two servers from Baatcheet:

* ``--suite engine.io``: a bare Engine.IO server on ``/engine.io`` that echoes every
  message to its sender. It has no Socket.IO layer on purpose: the suite sends raw
  Engine.IO messages such as ``4hello`` that are not Socket.IO packets.
* ``--suite socket.io``: a Socket.IO server on ``/socket.io`` with namespaces ``/``
  and ``/custom``.

Run it with ``uv run python examples/protocol_suites.py --suite socket.io --port 3000``,
or let ``scripts/conformance`` start it for you (see docs/how-to/conformance.md).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import uvloop

from baatcheet.engine import (
    CloseReason,
    EngineServer,
    EngineSession,
    prepare_message,
)
from baatcheet.listener import Listener
from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket

__all__ = ["build_socketio_server", "main", "serve_engineio", "suite_settings"]

AUTH_DELAY_S = 0.02
"""Pause between accepting a namespace connection and emitting ``auth``.

The suites await the CONNECT reply and the ``auth`` event one after the other, and
their ``ws`` 8.5 client fires every message of one TCP read at once; if both frames
landed in the same read, the second would be lost and the test would hang. A short
pause makes the frames travel separately, as they usually do with the Node server.
"""


def suite_settings(port: int, path: str) -> Settings:
    """The options both suites assert: heartbeat 300/200 ms, 1 MB payloads, any origin."""
    return Settings(
        port=port,
        socketio_path=path,
        ping_interval_ms=300,
        ping_timeout_ms=200,
        connect_timeout_ms=1000,
        max_payload_bytes=1_000_000,
        cors_origins=["*"],
        serve_client=False,
    )


async def _send_auth_back(socket: Socket) -> None:
    await asyncio.sleep(AUTH_DELAY_S)
    if socket.connected:
        socket.emit("auth", socket.handshake.auth)


def build_socketio_server(port: int) -> Server:
    """The Socket.IO suite's server: namespaces ``/`` and ``/custom`` both send ``auth`` back.

    ``message`` is echoed as ``message-back`` and ``message-with-ack`` is acknowledged
    with its own arguments, as in the reference server of socket.io-protocol's README.
    """
    server = Server(suite_settings(port, "/socket.io"))

    async def on_connection(socket: Socket) -> None:
        def echo(*args: Any) -> None:
            socket.emit("message-back", *args)

        def acknowledge(*args: Any) -> tuple[Any, ...]:
            return args

        socket.on("message", echo)
        socket.on("message-with-ack", acknowledge)
        await _send_auth_back(socket)

    server.on("connection", on_connection)
    server.of("/custom").on("connection", _send_auth_back)
    return server


class _Echo:
    """Engine.IO session handler that sends every message straight back."""

    def __init__(self, session: EngineSession) -> None:
        self._session = session

    def on_message(self, data: str | bytes) -> None:
        self._session.send_prepared(prepare_message((data,)))

    def on_close(self, reason: CloseReason) -> None:
        del reason


async def serve_engineio(port: int) -> None:
    """Serve the Engine.IO suite's echo server on ``/engine.io`` until cancelled.

    An engine-only server: the engine's sessions mounted on a listener, without the
    Socket.IO layer.
    """
    settings = suite_settings(port, "/engine.io")
    listener = Listener(settings)
    listener.mount_engine(settings.socketio_path, EngineServer(settings, _Echo))
    await listener.start()
    try:
        await asyncio.Event().wait()
    finally:
        await listener.close(grace=1.0)


def main() -> None:
    """Parse ``--suite`` and ``--port`` and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=["engine.io", "socket.io"], required=True)
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    if args.suite == "engine.io":
        uvloop.run(serve_engineio(args.port))
    else:
        uvloop.run(build_socketio_server(args.port).serve())


if __name__ == "__main__":
    main()
