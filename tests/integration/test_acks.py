"""Acknowledgements in both directions, with their timeouts and error answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baatcheet.errors import AckTimeoutError, SocketClosedError
from baatcheet.sio import EventError, Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsClient, JsDriver

pytestmark = pytest.mark.timeout(30)


async def _connected(
    js: JsDriver, server: Server, count: int = 1, transport: str = "websocket"
) -> list[JsClient]:
    url = f"http://127.0.0.1:{server.port}"
    clients = [await js.connect(url, transports=[transport]) for _ in range(count)]
    for client in clients:
        await client.wait("connect")
    return clients


async def _one_client(
    js: JsDriver, running_server: ServerFactory
) -> tuple[JsClient, asyncio.Queue[Socket]]:
    """One connected official client, and the server-side sockets as they come."""
    server: Server = await running_server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.on("connection", sockets.put_nowait)
    (client,) = await _connected(js, server)
    return client, sockets


async def _server_with_handlers(running_server: ServerFactory) -> Server:
    server: Server = await running_server()

    def on_connection(socket: Socket) -> None:
        socket.on("one", lambda value: value)
        socket.on("several", lambda *values: tuple(reversed(values)))
        socket.on("nothing", lambda: None)

        async def slow_square(value: int) -> int:
            await asyncio.sleep(0.01)
            return value * value

        socket.on("slow square", slow_square)

        def refuse() -> None:
            raise EventError("not_allowed", "you may not do that here")

        socket.on("refuse", refuse)

        def crash() -> None:
            raise RuntimeError("secret internal detail")

        socket.on("crash", crash)

        async def hang() -> None:
            await asyncio.Event().wait()

        socket.on("hang", hang)

    server.on("connection", on_connection)

    return server


@pytest.mark.parametrize(
    ("event", "args", "answer"),
    [
        ("one", [{"a": [1, 2]}], [{"a": [1, 2]}]),
        ("several", [1, "two", None], [None, "two", 1]),
        ("nothing", [], []),
        ("slow square", [12], [144]),
    ],
)
async def test_the_handler_return_value_becomes_the_ack_arguments(
    js: JsDriver, running_server: ServerFactory, event: str, args: list[Any], answer: list[Any]
) -> None:
    server = await _server_with_handlers(running_server)
    (client,) = await _connected(js, server)
    assert await client.emit_with_ack(event, *args) == answer


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_an_event_nobody_handles_is_answered_with_an_unknown_event_error(
    js: JsDriver, running_server: ServerFactory, transport: str
) -> None:
    server = await _server_with_handlers(running_server)
    (client,) = await _connected(js, server, transport=transport)
    (answer,) = await client.emit_with_ack("no such event", 1)
    assert answer["error"] == "unknown_event"
    assert "no such event" in answer["message"]


async def test_a_handler_raising_event_error_answers_with_its_code_and_message(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server = await _server_with_handlers(running_server)
    (client,) = await _connected(js, server)
    assert await client.emit_with_ack("refuse") == [
        {"error": "not_allowed", "message": "you may not do that here"}
    ]


async def test_a_crashing_handler_answers_internal_error_and_the_socket_keeps_working(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server = await _server_with_handlers(running_server)
    (client,) = await _connected(js, server)
    (answer,) = await client.emit_with_ack("crash")
    assert answer["error"] == "internal"
    assert "secret" not in answer["message"]
    assert await client.emit_with_ack("one", "still alive") == ["still alive"]


async def test_the_client_times_out_when_the_server_handler_never_finishes(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server = await _server_with_handlers(running_server)
    (client,) = await _connected(js, server)
    with pytest.raises(AckTimeoutError):
        await client.emit_with_ack("hang", timeout=0.2)
    assert await client.emit_with_ack("one", 1) == [1]


async def test_emit_with_ack_from_the_server_returns_the_client_answer(
    js: JsDriver, running_server: ServerFactory
) -> None:
    client, sockets = await _one_client(js, running_server)
    await client.on_ack("question", ["answer", 42])
    socket = await sockets.get()
    assert await socket.emit_with_ack("question", "what?", timeout=2) == ["answer", 42]
    asked = await client.wait("event", name="question")
    assert asked["args"] == ["what?"]


async def test_emit_with_ack_from_the_server_times_out_when_the_client_never_answers(
    js: JsDriver, running_server: ServerFactory
) -> None:
    client, sockets = await _one_client(js, running_server)
    await client.on_ack("question", "never")
    socket = await sockets.get()
    with pytest.raises(AckTimeoutError) as timed_out:
        await socket.timeout(0.2).emit_with_ack("question")
    assert timed_out.value.event == "question"
    assert timed_out.value.timeout == 0.2


async def test_a_late_client_answer_after_the_timeout_is_ignored(
    js: JsDriver, running_server: ServerFactory
) -> None:
    client, sockets = await _one_client(js, running_server)
    await client.on_ack("question", "never")
    socket = await sockets.get()
    with pytest.raises(AckTimeoutError):
        await socket.emit_with_ack("question", timeout=0.1)
    asked = await client.wait("event", name="question")
    await client.reply_ack(asked["ack_id"], "too late")
    await client.on_ack("question", ["in time"])
    assert await socket.emit_with_ack("question", timeout=2) == ["in time"]


async def test_a_server_emit_callback_runs_with_the_client_answer(
    js: JsDriver, running_server: ServerFactory
) -> None:
    client, sockets = await _one_client(js, running_server)
    await client.on_ack("*", ["yes", b"\x01"])
    socket = await sockets.get()
    answered: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
    socket.emit("confirm?", 1, callback=lambda *args: answered.set_result(args))
    assert await asyncio.wait_for(answered, 5) == ("yes", b"\x01")


async def test_a_pending_server_ack_fails_when_the_client_disconnects(
    js: JsDriver, running_server: ServerFactory
) -> None:
    client, sockets = await _one_client(js, running_server)
    await client.on_ack("question", "never")
    socket = await sockets.get()
    waiting = asyncio.ensure_future(socket.emit_with_ack("question", timeout=5))
    await client.wait("event", name="question")
    await client.disconnect()
    with pytest.raises(SocketClosedError):
        await asyncio.wait_for(waiting, 2)


async def test_a_broadcast_emit_with_ack_gathers_one_answer_per_client(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    clients = await _connected(js, server, count=4)
    for index, client in enumerate(clients):
        await client.on_ack("vote", [index])
    answers = await server.timeout(2).emit_with_ack("vote", "which?")
    assert sorted(answers) == [0, 1, 2, 3]


async def test_a_broadcast_emit_with_ack_times_out_with_the_answers_that_did_arrive(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    clients = await _connected(js, server, count=3)
    await clients[0].on_ack("vote", ["a"])
    await clients[1].on_ack("vote", ["b", "extra"])
    await clients[2].on_ack("vote", "never")
    with pytest.raises(AckTimeoutError) as timed_out:
        await server.timeout(0.3).emit_with_ack("vote")
    assert sorted(timed_out.value.partial, key=str) == [["b", "extra"], "a"]


async def test_a_broadcast_emit_with_ack_to_an_empty_room_returns_no_answers(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    assert await server.to("empty").timeout(1).emit_with_ack("anyone?") == []


async def test_a_room_broadcast_emit_with_ack_asks_only_the_room_members(
    js: JsDriver, running_server: ServerFactory
) -> None:
    server: Server = await running_server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.on("connection", sockets.put_nowait)
    member, outsider = await _connected(js, server, count=2)
    await member.on_ack("*", ["member"])
    await outsider.on_ack("*", ["outsider"])
    first, second = await sockets.get(), await sockets.get()
    member_socket = first if first.id == (await member.state())["sid"] else second
    member_socket.join("club")
    assert await server.to("club").timeout(2).emit_with_ack("roll call") == ["member"]
