"""One connection cannot take more than its share: rate limit, backpressure, one CONNECT."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from baatcheet.errors import ConnectRejected
from baatcheet.sio import Server, Socket
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)


async def _open(server: Server, namespace: str = "/") -> ClientConnection:
    """A raw Engine.IO WebSocket that has connected to ``namespace``."""
    ws = await connect(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket")
    assert str(await ws.recv()).startswith("0{")
    prefix = "" if namespace == "/" else namespace + ","
    await ws.send("40" + prefix)
    assert str(await ws.recv()).startswith("40")
    return ws


async def _frames_until_closed(ws: ClientConnection) -> list[str]:
    frames: list[str] = []
    try:
        while True:
            frame = await ws.recv()
            if isinstance(frame, str) and frame != "2":
                frames.append(frame)
    except ConnectionClosed:
        return frames


def _ack_answer(frame: str) -> tuple[int, Any]:
    """``(ack id, first argument)`` of an ``43<id>[...]`` frame."""
    assert frame.startswith("43"), frame
    head = frame[2:]
    digits = len(head) - len(head.lstrip("0123456789"))
    return int(head[:digits]), orjson.loads(head[digits:])[0]


async def test_events_over_the_rate_get_a_rate_limited_error_ack_and_the_rest_run(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(packet_rate_per_s=1, packet_burst=6)
    server.on("connection", lambda socket: socket.on("echo", lambda value: value))
    ws = await _open(server)  # the CONNECT takes one token: five are left

    for i in range(12):
        await ws.send(f'42{i + 1}["echo",{i + 1}]')
    answers = dict([_ack_answer(str(await ws.recv())) for _ in range(12)])

    assert [answers[i] for i in range(1, 6)] == [1, 2, 3, 4, 5]
    for i in range(6, 13):
        assert answers[i] == {"error": "rate_limited", "message": "too many packets; slow down"}
    await asyncio.sleep(1.1)  # one token back: the connection is still usable
    await ws.send('4299["echo","again"]')
    assert _ack_answer(str(await ws.recv())) == (99, "again")
    await ws.close()


async def test_sustained_flooding_disconnects_the_client_with_reason_rate_limited(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(
        packet_rate_per_s=1, packet_burst=5, packet_refusals_before_disconnect=20
    )
    reasons: asyncio.Queue[str] = asyncio.Queue()

    def on_connection(socket: Socket) -> None:
        socket.on("noise", lambda: None)
        socket.on("disconnect", reasons.put_nowait)

    server.on("connection", on_connection)
    ws = await _open(server)
    for _ in range(500):
        await ws.send('42["noise"]')

    frames = await _frames_until_closed(ws)
    assert frames == ["41", "1"]  # leave the namespace (no auto-reconnect), then CLOSE
    assert ws.close_code == 1008
    assert ws.close_reason == "rate limited"
    assert await asyncio.wait_for(reasons.get(), 5) == "rate limited"
    assert not server.main.sockets


async def test_a_flooding_client_does_not_slow_down_the_others(
    running_server: ServerFactory, js: JsDriver
) -> None:
    server: Server = await running_server(packet_burst=50, packet_refusals_before_disconnect=100)
    server.on("connection", lambda socket: socket.on("echo", lambda value: value))
    bystander = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await bystander.wait("connect")
    flooder = await _open(server)

    for _ in range(20_000):
        await flooder.send('40/chat,{"token":"bad"}')
    await _frames_until_closed(flooder)

    assert await bystander.emit_with_ack("echo", "still here") == ["still here"]
    assert len(server.main.sockets) == 1


async def test_a_connection_runs_at_most_the_configured_handlers_at_once_and_loses_none(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(inbound_max_pending_handlers=4, packet_burst=1000)
    release = asyncio.Event()
    running = 0
    most = 0
    handled: list[int] = []

    async def slow(number: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        handled.append(number)
        return number

    server.on("connection", lambda socket: socket.on("slow", slow))
    ws = await _open(server)
    for i in range(300):
        await ws.send(f'42{i}["slow",{i}]')
    await asyncio.sleep(0.3)
    assert running == 4  # the rest waits unread or in the backlog, not as tasks

    release.set()
    answers = [_ack_answer(str(await ws.recv())) for _ in range(300)]
    assert most == 4
    assert sorted(handled) == list(range(300))
    assert sorted(answer for _, answer in answers) == list(range(300))
    await ws.close()


async def test_a_second_connect_to_the_same_namespace_is_refused_and_leaves_no_ghost(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    chat = server.of("/chat")
    connected: list[str] = []

    async def slow_auth(socket: Socket) -> None:
        await asyncio.sleep(0.05)

    chat.use(slow_auth)

    def on_connection(socket: Socket) -> None:
        connected.append(socket.id)
        socket.join("lobby")

    chat.on("connection", on_connection)
    ws = await connect(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket")
    await ws.recv()
    await ws.send("40/chat,")
    await ws.send("40/chat,")

    replies = sorted([str(await ws.recv()), str(await ws.recv())])
    assert replies[0].startswith('40/chat,{"sid":')
    assert replies[1] == '44/chat,{"message":"already connected to this namespace"}'
    assert len(chat.sockets) == 1
    assert len(connected) == 1
    assert [socket.id for socket in await chat.in_("lobby").fetch_sockets()] == connected

    await ws.close()
    await asyncio.sleep(0.1)
    assert not chat.sockets
    assert not await chat.in_("lobby").fetch_sockets()


async def test_a_connect_refused_by_middleware_can_be_retried_on_the_same_connection(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()
    chat = server.of("/chat")
    attempts = 0

    def second_time_lucky(socket: Socket) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectRejected("try again")

    chat.use(second_time_lucky)
    ws = await connect(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket")
    await ws.recv()
    await ws.send("40/chat,")
    assert str(await ws.recv()) == '44/chat,{"message":"try again"}'
    await ws.send("40/chat,")
    assert str(await ws.recv()).startswith('40/chat,{"sid":')
    await ws.close()


async def test_a_lone_surrogate_from_the_official_client_keeps_the_connection(
    running_server: ServerFactory, js: JsDriver
) -> None:
    server: Server = await running_server()
    server.on("connection", lambda socket: socket.on("echo", lambda value: value))
    client = await js.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    await client.wait("connect")

    cut = "ab\ud83d"  # what "ab😀".slice(0, 3) leaves in JavaScript
    assert await client.emit_with_ack("echo", cut) == [cut]
    await client.assert_silent("disconnect", within=0.1)
