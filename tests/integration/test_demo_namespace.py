"""The open demo on ``/`` is opt-in, and rate-limited when on."""

from __future__ import annotations

import asyncio

import pytest

from baatcheet.demo import DEMO_OFF_MESSAGE, register_demo
from baatcheet.sio import Server
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)


async def test_the_demo_is_off_by_default_and_says_how_to_turn_it_on(
    running_server: ServerFactory, js: JsDriver
) -> None:
    server: Server = await running_server()
    register_demo(server, server.settings)

    client = await js.connect(f"http://127.0.0.1:{server.port}", reconnection=False)

    error = await client.wait("connect_error")
    assert error["message"] == DEMO_OFF_MESSAGE
    assert "--demo-namespace" in DEMO_OFF_MESSAGE


async def test_the_demo_relays_to_everyone_and_refuses_a_flood(
    running_server: ServerFactory, js: JsDriver
) -> None:
    server: Server = await running_server(demo_namespace=True, demo_messages_per_s=2)
    register_demo(server, server.settings)
    url = f"http://127.0.0.1:{server.port}"
    sender = await js.connect(url, transports=["websocket"])
    listener = await js.connect(url, transports=["websocket"])
    await sender.wait("connect")
    await listener.wait("connect")

    answers = [await sender.emit_with_ack("chat message", f"hi {n}") for n in range(6)]

    assert answers[:4] == [[]] * 4  # the burst is twice the rate per second
    assert answers[4] == [
        {"error": "rate_limited", "message": "at most 2 demo messages per second"}
    ]
    assert [(await listener.next_event("chat message"))[0] for _ in range(4)] == [
        f"hi {n}" for n in range(4)
    ]
    await asyncio.sleep(0.6)  # a token comes back
    assert await sender.emit_with_ack("chat message", "marker") == []
    assert await listener.next_event("chat message") == ["marker"]  # the refused never came
