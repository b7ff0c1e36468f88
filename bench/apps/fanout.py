"""Baatcheet's side of the fan-out benchmark: the same app as bench/node/fanout_server.js.

Every ``publish`` event is re-emitted to all sockets of namespace ``/`` as ``message``.
The app uses only the public ``baatcheet.sio`` API, so the benchmark measures exactly
what a user's app gets. Run as ``python bench/apps/fanout.py PORT`` (or ``BENCH_PORT``);
``scripts/bench`` starts it pinned to core 0.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import uvloop

from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket

__all__ = ["build_server", "main"]


def build_server(port: int) -> Server:
    """Returns a server on 127.0.0.1:``port`` that re-emits every ``publish`` to everyone."""
    server = Server(Settings(host="127.0.0.1", port=port))

    # Handlers are registered by call rather than as decorators: ``on`` returns ``Any``,
    # which mypy --strict rejects as an untyped decorator.
    def on_connection(socket: Socket) -> None:
        def on_publish(payload: Any) -> None:
            server.emit("message", payload)

        socket.on("publish", on_publish)

    server.on("connection", on_connection)
    return server


def _run(server: Server) -> None:
    """Runs the server the way ``baatcheet serve`` does once ``baatcheet.cli`` exists.

    ``baatcheet.cli.run_server`` owns the production event-loop setup (uvloop, signal
    handling); until that module lands, plain ``uvloop.run`` is the closest equivalent.
    """
    try:
        cli = importlib.import_module("baatcheet.cli")
    except ModuleNotFoundError:
        uvloop.run(server.serve())
        return
    run_server: Callable[[Server], None] | None = getattr(cli, "run_server", None)
    if run_server is None:
        uvloop.run(server.serve())
    else:
        run_server(server)


def main() -> None:
    """Entry point: the port comes from argv[1], else ``BENCH_PORT``, else 3000."""
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_PORT", "3000"))
    _run(build_server(port))


if __name__ == "__main__":
    main()
