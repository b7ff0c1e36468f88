"""A connection's map of sockets has one owner: the server-side client of that connection.

Readers (the in-memory test kit, the admin UI) get a live, read-only view; a socket that
leaves its namespace, from either side, frees its slot there.
"""

from __future__ import annotations

import asyncio

import pytest

from baatcheet import Server, Socket, SocketIOClient
from baatcheet.sio.client import Client
from support.factories import ServerFactory

pytestmark = pytest.mark.timeout(60)


async def test_a_connections_sockets_are_a_live_view_nobody_else_can_change(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.on("connection", sockets.put_nowait)
    server.of("/admin").on("connection", sockets.put_nowait)
    url = f"http://127.0.0.1:{server.port}"
    async with SocketIOClient(url, namespaces=["/", "/admin"], transports=["websocket"]) as client:
        main, admin = sorted([await sockets.get(), await sockets.get()], key=lambda s: s.nsp.name)
        (session,) = server.engine.sessions.values()
        connection = session.handler
        assert isinstance(connection, Client)
        view = connection.sockets
        assert dict(view) == {"/": main, "/admin": admin}
        with pytest.raises(TypeError):
            view["/admin"] = main  # type: ignore[index]

        left = asyncio.Event()
        admin.on("disconnect", lambda _reason: left.set())
        await client.of("/admin").disconnect()
        await asyncio.wait_for(left.wait(), 5)
        assert dict(view) == {"/": main}
        main.disconnect()
        assert dict(view) == {}
