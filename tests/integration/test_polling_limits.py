"""Long-polling clients get the same write bound, slow-consumer policy and backpressure."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from baatcheet.settings import SlowConsumerPolicy
from baatcheet.sio import Server, Socket
from support.factories import ServerFactory

pytestmark = pytest.mark.timeout(30)

KILOBYTE = "x" * 1000


class PollingClient:
    """A raw Engine.IO polling client, driven request by request."""

    def __init__(self, http: httpx.AsyncClient, port: int) -> None:
        self.http = http
        self.base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
        self.sid = ""

    async def open(self, namespace_packet: str = "40") -> None:
        reply = await self.http.get(self.base)
        self.sid = orjson.loads(reply.text[1:])["sid"]
        assert (await self.post(namespace_packet)).text == "ok"
        assert (await self.get()).text.startswith("40")

    async def get(self) -> httpx.Response:
        return await self.http.get(f"{self.base}&sid={self.sid}")

    async def post(self, body: str) -> httpx.Response:
        return await self.http.post(f"{self.base}&sid={self.sid}", content=body)


async def _connected_socket(
    server: Server, http: httpx.AsyncClient
) -> tuple[Socket, PollingClient]:
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    server.on("connection", sockets.put_nowait)
    client = PollingClient(http, server.port)
    await client.open()
    return await asyncio.wait_for(sockets.get(), 5), client


async def _emits_until_cut(socket: Socket, limit: int) -> int:
    """Emit 1 KB messages until the socket is disconnected; how many went out."""
    for sent in range(limit):
        if not socket.connected:
            return sent
        socket.emit("bulk", KILOBYTE)
        await asyncio.sleep(0)
    return limit


@pytest.mark.parametrize(
    ("policy", "cut_between"),
    [
        (SlowConsumerPolicy.DROP_VOLATILE, (50, 55)),
        (SlowConsumerPolicy.DISCONNECT, (10, 15)),
    ],
)
async def test_a_polling_client_that_never_fetches_is_cut_off_by_its_policy(
    running_server: ServerFactory, policy: SlowConsumerPolicy, cut_between: tuple[int, int]
) -> None:
    server: Server = await running_server(
        write_buffer_high_bytes=10_000, write_buffer_max_bytes=50_000, slow_consumer_policy=policy
    )
    reasons: asyncio.Queue[str] = asyncio.Queue()
    async with httpx.AsyncClient(timeout=5) as http:
        socket, client = await _connected_socket(server, http)
        socket.on("disconnect", reasons.put_nowait)

        sent = await _emits_until_cut(socket, 1_000)

        assert cut_between[0] <= sent <= cut_between[1]
        assert await asyncio.wait_for(reasons.get(), 5) == "slow consumer"
        # What the client can still fetch is bounded too.
        reply = await client.get()
        assert len(reply.content) < 60_000


async def test_a_polling_client_under_the_high_mark_keeps_every_message(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(write_buffer_high_bytes=10_000)
    async with httpx.AsyncClient(timeout=5) as http:
        socket, client = await _connected_socket(server, http)
        for _ in range(9):
            socket.emit("bulk", KILOBYTE)

        body = (await client.get()).text

        assert body.count('42["bulk"') == 9
        assert socket.connected


async def test_a_polling_post_waits_for_its_ok_while_the_handlers_are_busy(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server(inbound_max_pending_handlers=2)
    release = asyncio.Event()
    handled: list[int] = []

    async def slow(number: int) -> None:
        await release.wait()
        handled.append(number)

    async with httpx.AsyncClient(timeout=5) as http:
        socket, client = await _connected_socket(server, http)
        socket.on("slow", slow)
        batch = "\x1e".join(f'42["slow",{i}]' for i in range(10))

        post = asyncio.ensure_future(client.post(batch))
        await asyncio.sleep(0.3)
        assert not post.done()  # the client cannot send more until this answer comes

        release.set()
        assert (await post).text == "ok"
        await asyncio.sleep(0.1)
        assert sorted(handled) == list(range(10))


async def test_a_post_over_a_megabyte_gets_413_and_ends_its_session(
    running_server: ServerFactory,
) -> None:
    server: Server = await running_server()  # max_payload_bytes: 1,000,000
    async with httpx.AsyncClient(timeout=5) as http:
        _socket, client = await _connected_socket(server, http)

        refused = await client.post('42["big","' + "x" * 1_100_000 + '"]')
        after = await client.get()

        assert refused.status_code == 413
        assert after.status_code == 400
        assert after.json() == {"code": 1, "message": "Session ID unknown"}
