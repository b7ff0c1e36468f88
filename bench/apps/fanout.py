"""Baatcheet's side of the fan-out benchmarks: the same app as bench/node/fanout_server.js.

Every ``publish`` event is re-emitted as ``message``: to every socket of namespace ``/``,
or, for a client whose handshake auth names a ``room``, to that room, which it joins on
connection. ``join`` (with an ack) puts the socket in the room it names: the storm
scenario's clients re-join one after a server restart. With ``--redis-url`` the server is
a cluster node (the same app as bench/node/fanout_cluster_server.js), and ``stats`` (with
an ack) answers what its Redis subscription delivered so far:
``{"messages": n, "bytes": n}``.

The app uses only the public ``baatcheet.sio`` API, so the benchmark measures exactly what
a user's app gets. Run as ``python bench/apps/fanout.py PORT [--redis-url URL]
[--redis-subscription classic|dynamic|dynamic-private]`` (the port may also come from
``BENCH_PORT``); ``baatcheet bench`` starts it pinned to core 0.

Start-up binds the port before it imports Baatcheet, as any app can (``Server(sock=...)``):
the storm scenario kills this server and starts it again while ten thousand clients
reconnect, and a client that finds the port closed backs off for one to five seconds,
where one that connects while the server is still importing only waits in the accept
queue.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baatcheet.settings import RedisSubscription
    from baatcheet.sio import Server, Socket

__all__ = ["build_server", "main"]


_BACKLOG = 4096
"""The listen backlog, as the listener's own: a restart's reconnect burst waits in it."""


def build_server(
    port: int,
    redis_url: str | None = None,
    redis_subscription: RedisSubscription | str = "classic",
    sock: socket.socket | None = None,
) -> Server:
    """Returns a server on 127.0.0.1:``port`` that re-emits every ``publish``.

    Args:
        port: TCP port to listen on.
        redis_url: Joins the server to a cluster on that Redis; None for a single node.
        redis_subscription: Which broadcasts the node receives from Redis.
        sock: The port, already bound and listening (see the module's docstring).
    """
    # Imported here, after main() has bound the port: they are most of the start-up.
    from baatcheet.settings import RedisSubscription, Settings  # noqa: PLC0415
    from baatcheet.sio import Server  # noqa: PLC0415

    server = Server(
        Settings(
            host="127.0.0.1",
            port=port,
            redis_url=redis_url,
            redis_subscription=RedisSubscription(redis_subscription),
        ),
        sock=sock,
    )

    # Handlers are registered by call rather than as decorators: ``on`` returns ``Any``,
    # which mypy --strict rejects as an untyped decorator.
    def on_connection(socket: Socket) -> None:
        room = socket.handshake.auth.get("room")
        if isinstance(room, str):
            socket.join(room)
            to_room = server.to(room)

            def on_room_publish(payload: Any) -> None:
                to_room.emit("message", payload)

            socket.on("publish", on_room_publish)
        else:

            def on_publish(payload: Any) -> None:
                server.emit("message", payload)

            socket.on("publish", on_publish)
        socket.on("join", on_join(socket))
        if redis_url:  # not on the single-node app: the idle-memory figure stays comparable
            socket.on("stats", on_stats)

    def on_join(socket: Socket) -> Callable[[Any], bool]:
        def join(room: Any) -> bool:
            if not isinstance(room, str):
                return False
            socket.join(room)
            return True

        return join

    def on_stats() -> dict[str, int]:
        broker = server.broker
        if broker is None:
            return {"messages": 0, "bytes": 0}
        return {"messages": broker.messages_received, "bytes": broker.bytes_received}

    server.on("connection", on_connection)
    return server


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``PORT [--redis-url URL] [--redis-subscription MODE]``.

    The port comes from the first argument, else ``BENCH_PORT``, else 3000.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "port", nargs="?", type=int, default=int(os.environ.get("BENCH_PORT", "3000"))
    )
    parser.add_argument("--redis-url", default=None)
    parser.add_argument(
        "--redis-subscription",
        choices=["classic", "dynamic", "dynamic-private"],
        default="classic",
    )
    args = parser.parse_args(argv)
    sock = socket.create_server(("127.0.0.1", args.port), backlog=_BACKLOG)
    import uvloop  # noqa: PLC0415

    uvloop.run(build_server(args.port, args.redis_url, args.redis_subscription, sock).serve())


if __name__ == "__main__":
    main()
