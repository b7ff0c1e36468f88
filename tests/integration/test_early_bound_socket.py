"""A server handed a socket bound early: clients that come while it starts are queued, not refused.

After a restart every client reconnects at once; one refused at the door backs off for
seconds. A process that binds its port first thing (``Server(sock=...)``) makes those
clients wait in the kernel's accept queue until the server answers them.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from baatcheet.settings import Settings
from baatcheet.sio import Server

pytestmark = pytest.mark.timeout(60)

_HANDSHAKE = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def test_clients_that_connect_before_the_server_starts_are_answered_once_it_does() -> None:
    sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = sock.getsockname()[1]
    server = Server(Settings(host="127.0.0.1", port=port), sock=sock)
    # The server is not started: the kernel alone takes these connections.
    early = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
    for _, writer in early:
        writer.write(_HANDSHAKE)
    await server.start()
    try:
        for reader, writer in early:
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            assert body.startswith(b'0{"sid":')
            writer.close()
        assert server.port == port
    finally:
        await server.shutdown(grace=1)


def test_a_socket_cannot_go_to_both_the_server_and_a_listener_it_is_given() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        first = Server(Settings(host="127.0.0.1", port=0))
        with pytest.raises(TypeError, match="socket"):
            Server(Settings(host="127.0.0.1", port=0), listener=first.listener, sock=sock)


def test_a_single_node_server_starts_without_loading_the_redis_client() -> None:
    # A fresh interpreter: this test process has long since imported redis elsewhere.
    script = (
        "import sys\n"
        "from baatcheet.settings import Settings\n"
        "from baatcheet.sio import Server\n"
        "Server(Settings(port=0))\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'redis'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
