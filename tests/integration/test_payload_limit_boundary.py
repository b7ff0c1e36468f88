"""``max_payload_bytes`` is the largest polling POST accepted: exactly it passes, one more is 413.

Checked on both entries that read POST bodies, the native HTTP server and the ASGI entry,
with a payload that must also be *processed* (an acked event echoed back), so "accepted"
cannot mean "answered 200 and dropped".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from support.ports import free_port

pytestmark = pytest.mark.timeout(30)

LIMIT = 1000
_PREFIX = '421["echo","'
_SUFFIX = '"]'


def _echo_event(size: int) -> str:
    """An acked ``echo`` event whose polling body is exactly ``size`` bytes."""
    body = _PREFIX + "x" * (size - len(_PREFIX) - len(_SUFFIX)) + _SUFFIX
    assert len(body.encode()) == size
    return body


@pytest.fixture(params=["native", "asgi"])
async def http(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a server with ``max_payload_bytes=LIMIT`` and an ``echo`` handler."""
    server = Server(Settings(port=free_port(), max_payload_bytes=LIMIT))

    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda *args: args)

    server.on("connection", on_connection)
    if request.param == "native":
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        client = httpx.AsyncClient(base_url=base, timeout=5)
    else:
        transport = httpx.ASGITransport(app=server.asgi_app())
        client = httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=5)
    try:
        async with client:
            yield client
    finally:
        await server.shutdown()


class Polling:
    """One long-polling session, driven by hand."""

    def __init__(self, http: httpx.AsyncClient, sid: str) -> None:
        self.http = http
        self.url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"

    @classmethod
    async def open(cls, http: httpx.AsyncClient) -> Polling:
        """Handshake, then connect to ``/``."""
        opened = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert opened.status_code == 200, opened.text
        session = cls(http, str(orjson.loads(opened.text[1:])["sid"]))
        assert (await session.post("40")).text == "ok"
        assert (await session.get()).text.startswith('40{"sid":')
        return session

    async def post(self, body: str) -> httpx.Response:
        return await self.http.post(self.url, content=body.encode())

    async def get(self) -> httpx.Response:
        return await self.http.get(self.url)


async def test_a_post_of_exactly_max_payload_bytes_is_accepted_and_processed(
    http: httpx.AsyncClient,
) -> None:
    session = await Polling.open(http)
    body = _echo_event(LIMIT)
    posted = await session.post(body)
    assert (posted.status_code, posted.text) == (200, "ok")
    answer = await session.get()
    assert answer.status_code == 200
    expected: list[Any] = orjson.loads(body[3:])[1:]
    assert answer.text == "431" + orjson.dumps(expected).decode()


async def test_a_post_one_byte_over_max_payload_bytes_is_refused_with_413(
    http: httpx.AsyncClient,
) -> None:
    session = await Polling.open(http)
    refused = await session.post(_echo_event(LIMIT + 1))
    assert refused.status_code == 413


async def test_a_post_over_max_payload_bytes_ends_the_session(
    http: httpx.AsyncClient,
) -> None:
    session = await Polling.open(http)
    assert (await session.post(_echo_event(LIMIT + 1))).status_code == 413
    try:
        # An ended session answers at once; a live one holds the GET until its next ping.
        async with asyncio.timeout(2):
            after = await session.get()
    except TimeoutError:
        pytest.fail("the session is still open: its long-poll GET was held")
    assert after.status_code == 400, after.text
    assert after.json() == {"code": 1, "message": "Session ID unknown"}
