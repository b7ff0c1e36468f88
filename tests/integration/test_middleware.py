"""Namespace middleware admits or refuses sockets before ``connection`` runs."""

from __future__ import annotations

import asyncio
import re

import pytest

from baatcheet.sio import ConnectRejected, DynamicNamespace, Namespace, Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)


def _require_token(socket: Socket) -> None:
    token = socket.handshake.auth.get("token")
    if token != "secret":
        raise ConnectRejected("invalid token", data={"code": "invalid_token", "got": token})
    socket.data["user"] = "alice"


async def test_a_rejecting_middleware_sends_connect_error_with_message_and_data(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    connected: list[Socket] = []
    server.use(_require_token)
    server.on("connection", connected.append)
    client = await js.connect(
        f"http://127.0.0.1:{server.port}", auth={"token": "wrong"}, reconnection=False
    )
    error = await client.wait("connect_error")
    assert error["message"] == "invalid token"
    assert error["data"] == {"code": "invalid_token", "got": "wrong"}
    await client.assert_silent("connect")
    assert connected == []
    assert not server.main.sockets


async def test_an_admitted_socket_keeps_what_the_middleware_stored_in_its_data(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    server.use(_require_token)
    server.on("connection", lambda socket: socket.emit("hello", socket.data["user"]))
    client = await js.connect(f"http://127.0.0.1:{server.port}", auth={"token": "secret"})
    await client.wait("connect")
    assert await client.next_event("hello") == ["alice"]


async def test_middlewares_run_in_order_and_the_first_refusal_stops_the_chain(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    ran: list[str] = []

    async def first(socket: Socket) -> None:
        await asyncio.sleep(0)
        ran.append("first")

    def second(socket: Socket) -> None:
        ran.append("second")
        raise ConnectRejected("closed for maintenance")

    def third(socket: Socket) -> None:
        ran.append("third")

    chat: Namespace = server.of("/chat")
    for middleware in (first, second, third):
        chat.use(middleware)
    client = await js.connect(f"http://127.0.0.1:{server.port}/chat", reconnection=False)
    error = await client.wait("connect_error")
    assert error["message"] == "closed for maintenance"
    assert error["data"] is None
    assert ran == ["first", "second"]


async def test_a_middleware_that_crashes_refuses_the_socket_without_leaking_details(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()

    def broken(socket: Socket) -> None:
        raise RuntimeError("database password is hunter2")

    server.use(broken)
    client = await js.connect(f"http://127.0.0.1:{server.port}", reconnection=False)
    error = await client.wait("connect_error")
    assert error["message"] == "server error"
    assert "hunter2" not in str(client.history)


async def test_middleware_of_one_namespace_does_not_guard_another(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    server.of("/private").use(_require_token)
    url = f"http://127.0.0.1:{server.port}"
    public = await js.connect(url, transports=["websocket"])
    private = await js.connect(f"{url}/private", transports=["websocket"], reconnection=False)
    await public.wait("connect")
    assert (await private.wait("connect_error"))["message"] == "invalid token"


async def test_a_dynamic_family_middleware_guards_every_child_namespace(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    family: DynamicNamespace = server.of(re.compile(r"^/org-\w+$"))
    family.use(_require_token)
    url = f"http://127.0.0.1:{server.port}"
    refused = await js.connect(f"{url}/org-a", reconnection=False)
    admitted = await js.connect(f"{url}/org-b", auth={"token": "secret"})
    assert (await refused.wait("connect_error"))["data"]["code"] == "invalid_token"
    await admitted.wait("connect")


async def test_a_refusal_in_one_namespace_leaves_the_shared_connection_working(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    server.of("/private").use(_require_token)
    server.on("connection", lambda socket: socket.on("echo", lambda text: text))
    url = f"http://127.0.0.1:{server.port}"
    public = await js.connect(url, transports=["websocket"], force_new=False)
    await public.wait("connect")
    private = await js.connect(
        f"{url}/private", transports=["websocket"], force_new=False, reconnection=False
    )
    await private.wait("connect_error")
    assert await public.emit_with_ack("echo", "still here") == ["still here"]
    assert [r for r in public.history if r.get("kind") == "disconnect"] == []  # ack: the marker
