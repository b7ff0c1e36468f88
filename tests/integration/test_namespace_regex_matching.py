"""A regex namespace family must match the whole name, even when the regex has no anchors.

``server.of(re.compile(r"/room-\\d+"))`` admits ``/room-7`` and nothing that merely starts
(``re.match``) or contains (``re.search``) such a name: a prefix match would let
``/room-7x`` or ``/room-7/admin`` create namespaces the application never meant to serve.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from baatcheet.sio import DynamicNamespace, Server
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("name", ["/room-1x", "/room-7/admin", "/lobby/room-1", "/room-"])
async def test_an_unanchored_regex_refuses_names_it_only_partly_matches(
    js: JsDriver, running_server: ServerFactory, name: str
) -> None:
    server: Server = await running_server()
    rooms: DynamicNamespace = server.of(re.compile(r"/room-\d+"))
    created: asyncio.Queue[str] = asyncio.Queue()
    rooms.on("connection", lambda socket: created.put_nowait(socket.nsp.name))
    url = f"http://127.0.0.1:{server.port}"

    refused = await js.connect(f"{url}{name}", transports=["websocket"], reconnection=False)
    assert (await refused.wait("connect_error"))["message"] == "Invalid namespace"
    admitted = await js.connect(f"{url}/room-7", transports=["websocket"])
    await admitted.wait("connect")

    assert await created.get() == "/room-7"
    assert set(rooms.children) == {"/room-7"}
