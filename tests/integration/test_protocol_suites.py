"""The behaviours the official Engine.IO / Socket.IO conformance suites check, in CI.

The suites themselves (see ``docs/how-to/conformance.md``) live on GitHub, which CI
cannot reach, so the observable contract they rely on is pinned here too: raw HTTP
long-polling with httpx and raw WebSocket frames with the ``websockets`` client,
against a real server on a real port, configured like the suites' reference server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket

PING_INTERVAL_MS = 300
PING_TIMEOUT_MS = 200
HEARTBEAT_S = (PING_INTERVAL_MS + PING_TIMEOUT_MS) / 1000
RS = "\x1e"
"""Engine.IO's record separator between packets of one long-polling payload."""


def _build_server() -> Server:
    server = Server(
        Settings(
            port=0,
            ping_interval_ms=PING_INTERVAL_MS,
            ping_timeout_ms=PING_TIMEOUT_MS,
            connect_timeout_ms=1000,
            max_payload_bytes=1_000_000,
            cors_origins=["*"],
        )
    )

    def on_connection(socket: Socket) -> None:
        socket.emit("auth", socket.handshake.auth)
        socket.on("message", lambda *args: socket.emit("message-back", *args))
        socket.on("message-with-ack", lambda *args: args)

    def on_custom(socket: Socket) -> None:
        socket.emit("auth", socket.handshake.auth)

    server.on("connection", on_connection)
    server.of("/custom").on("connection", on_custom)
    return server


class Peer:
    """A raw client of one running server: URLs plus an HTTP client."""

    def __init__(self, port: int, http: httpx.AsyncClient) -> None:
        self.http = http
        self.url = f"http://127.0.0.1:{port}/socket.io/"
        self.ws_url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"

    async def get(self, query: str) -> httpx.Response:
        return await self.http.get(f"{self.url}?{query}")

    async def open_polling(self) -> str:
        """Handshake over long-polling; returns the session id."""
        response = await self.get("EIO=4&transport=polling")
        assert response.status_code == 200
        return str(orjson.loads(response.text[1:])["sid"])

    async def poll(self, sid: str) -> httpx.Response:
        return await self.get(f"EIO=4&transport=polling&sid={sid}")

    async def push(self, sid: str, body: str) -> httpx.Response:
        return await self.http.post(f"{self.url}?EIO=4&transport=polling&sid={sid}", content=body)

    def websocket(self, sid: str | None = None) -> connect:
        return connect(self.ws_url + (f"&sid={sid}" if sid else ""))


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    server = _build_server()
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            yield Peer(server.port, http)
    finally:
        await server.shutdown()


async def _recv(ws: ClientConnection, *, skip_pings: bool = True) -> str | bytes:
    while True:
        message = await asyncio.wait_for(ws.recv(), timeout=2)
        if not (skip_pings and message == "2"):
            return message


async def _connect_main(ws: ClientConnection) -> None:
    """Engine.IO handshake, then join namespace ``/`` and swallow its ``auth`` event."""
    assert str(await _recv(ws)).startswith("0")
    await ws.send("40")
    assert str(await _recv(ws)).startswith("40")
    assert await _recv(ws) == '42["auth",{}]'


async def _assert_closed_soon(ws: ClientConnection, within: float = 2.0) -> None:
    async def drain() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass

    await asyncio.wait_for(drain(), timeout=within)
    assert ws.close_code is not None


# -- Engine.IO: handshake ------------------------------------------------------------------


async def test_polling_handshake_announces_exactly_the_configured_options(peer: Peer) -> None:
    response = await peer.get("EIO=4&transport=polling")

    assert response.status_code == 200
    assert response.text[0] == "0"
    handshake = orjson.loads(response.text[1:])
    assert set(handshake) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert isinstance(handshake["sid"], str)
    assert handshake["upgrades"] == ["websocket"]
    assert (handshake["pingInterval"], handshake["pingTimeout"]) == (300, 200)
    assert handshake["maxPayload"] == 1_000_000


async def test_websocket_handshake_offers_no_further_upgrade(peer: Peer) -> None:
    async with peer.websocket() as ws:
        handshake = orjson.loads(str(await _recv(ws))[1:])

    assert set(handshake) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert handshake["upgrades"] == []


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("GET", "transport=polling"),
        ("GET", "EIO=abc&transport=polling"),
        ("GET", "EIO=4"),
        ("GET", "EIO=4&transport=abc"),
        ("POST", "EIO=4&transport=polling"),
        ("PUT", "EIO=4&transport=polling"),
    ],
)
async def test_a_malformed_polling_handshake_is_answered_400(
    peer: Peer, method: str, query: str
) -> None:
    response = await peer.http.request(method, f"{peer.url}?{query}")

    assert response.status_code == 400


@pytest.mark.parametrize("query", ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4"])
async def test_a_malformed_websocket_handshake_is_refused(peer: Peer, query: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{peer.url.replace('http', 'ws')}?{query}"):
            pass

    assert refused.value.response.status_code == 400


# -- Engine.IO: long-polling ---------------------------------------------------------------


async def _join_main_over_polling(peer: Peer) -> str:
    """Open a polling session, join ``/`` and drain everything up to the ``auth`` event."""
    sid = await peer.open_polling()
    await peer.push(sid, "40")
    while "auth" not in (await peer.poll(sid)).text:
        pass
    return sid


async def _poll_packets(peer: Peer, sid: str, count: int) -> list[str]:
    """Poll until ``count`` packets other than pings arrived."""
    packets: list[str] = []
    while len(packets) < count:
        packets += [p for p in (await peer.poll(sid)).text.split(RS) if p != "2"]
    return packets


async def test_a_polling_post_of_several_packets_is_acknowledged_with_ok(peer: Peer) -> None:
    sid = await _join_main_over_polling(peer)

    pushed = await peer.push(sid, f'42["message",1]{RS}42["message",2]')

    assert (pushed.status_code, pushed.text) == (200, "ok")
    assert await _poll_packets(peer, sid, 2) == ['42["message-back",1]', '42["message-back",2]']


async def test_binary_over_polling_travels_as_base64_packets(peer: Peer) -> None:
    sid = await _join_main_over_polling(peer)

    await peer.push(sid, f'451-["message",{{"_placeholder":true,"num":0}}]{RS}bAQIDBA==')

    assert await _poll_packets(peer, sid, 2) == [
        '451-["message-back",{"_placeholder":true,"num":0}]',
        "bAQIDBA==",
    ]


async def test_an_invalid_polling_payload_ends_the_session(peer: Peer) -> None:
    sid = await peer.open_polling()

    pushed = await peer.push(sid, "abc")

    assert pushed.status_code == 400
    assert (await peer.poll(sid)).status_code == 400


async def test_a_second_concurrent_poll_closes_the_session(peer: Peer) -> None:
    sid = await peer.open_polling()

    first = asyncio.ensure_future(peer.poll(sid))
    await asyncio.sleep(0.05)
    second = await peer.poll(sid)

    assert second.status_code == 400
    answered = await first
    assert (answered.status_code, answered.text) == (200, "1")
    assert (await peer.poll(sid)).status_code == 400


# -- Engine.IO: heartbeat and close ------------------------------------------------------


async def test_the_server_pings_a_polling_client_that_answers_every_time(peer: Peer) -> None:
    sid = await peer.open_polling()

    for _ in range(3):
        polled = await peer.poll(sid)
        assert (polled.status_code, polled.text) == (200, "2")
        assert (await peer.push(sid, "3")).status_code == 200


async def test_a_polling_session_without_pong_expires(peer: Peer) -> None:
    sid = await peer.open_polling()

    await asyncio.sleep(HEARTBEAT_S + 0.1)

    assert (await peer.poll(sid)).status_code == 400


async def test_the_server_pings_a_websocket_client_that_answers_every_time(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _recv(ws)
        for _ in range(3):
            assert await _recv(ws, skip_pings=False) == "2"
            await ws.send("3")


async def test_a_websocket_without_pong_is_closed(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _assert_closed_soon(ws, within=HEARTBEAT_S + 1)


async def test_a_close_packet_over_polling_ends_the_pending_poll_with_noop(peer: Peer) -> None:
    sid = await peer.open_polling()

    pending = asyncio.ensure_future(peer.poll(sid))
    await asyncio.sleep(0.05)
    await peer.push(sid, "1")

    answered = await pending
    assert (answered.status_code, answered.text) == (200, "6")
    assert (await peer.poll(sid)).status_code == 400


async def test_a_close_packet_over_websocket_closes_it(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _recv(ws)
        await ws.send("1")
        await _assert_closed_soon(ws)


# -- Engine.IO: upgrade --------------------------------------------------------------------


async def test_upgrade_answers_the_probe_and_releases_the_pending_poll(peer: Peer) -> None:
    sid = await peer.open_polling()
    async with peer.websocket(sid) as ws:
        await ws.send("2probe")
        assert await _recv(ws) == "3probe"

        released = await peer.poll(sid)
        assert (released.status_code, released.text) == (200, "6")

        await ws.send("5")
        await ws.send("40")
        assert str(await _recv(ws)).startswith("40{")


async def test_after_upgrade_the_sid_is_refused_on_polling_and_on_a_new_websocket(
    peer: Peer,
) -> None:
    sid = await peer.open_polling()
    async with peer.websocket(sid) as ws:
        await ws.send("2probe")
        await ws.send("5")
        assert await _recv(ws) == "3probe"

        assert (await peer.poll(sid)).status_code == 400
        try:
            async with peer.websocket(sid) as intruder:
                await _assert_closed_soon(intruder)
        except InvalidStatus as refused:
            assert refused.response.status_code == 400

        await ws.send("40")
        assert str(await _recv(ws)).startswith("40{")


# -- Socket.IO: connect and disconnect -----------------------------------------------------


@pytest.mark.parametrize(
    ("connect_packet", "prefix", "auth"),
    [
        ("40", "40", "{}"),
        ('40{"token":"123"}', "40", '{"token":"123"}'),
        ("40/custom,", "40/custom,", "{}"),
        ('40/custom,{"token":"abc"}', "40/custom,", '{"token":"abc"}'),
    ],
)
async def test_connecting_to_a_namespace_returns_only_a_sid_and_passes_auth_on(
    peer: Peer, connect_packet: str, prefix: str, auth: str
) -> None:
    async with peer.websocket() as ws:
        await _recv(ws)
        await ws.send(connect_packet)

        reply = str(await _recv(ws))
        assert reply.startswith(prefix)
        assert set(orjson.loads(reply[len(prefix) :])) == {"sid"}
        event_prefix = "42" + prefix[2:]
        assert await _recv(ws) == f'{event_prefix}["auth",{auth}]'


async def test_an_unknown_namespace_is_refused_with_connect_error(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _recv(ws)
        await ws.send("40/random")

        assert await _recv(ws) == '44/random,{"message":"Invalid namespace"}'


async def test_a_connection_that_never_joins_a_namespace_is_closed(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _recv(ws)
        started = asyncio.get_running_loop().time()

        async def keep_ponging() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    if message == "2":
                        await ws.send("3")

        await asyncio.wait_for(keep_ponging(), timeout=3)

    assert asyncio.get_running_loop().time() - started >= 0.9


async def test_leaving_the_last_namespace_keeps_the_connection_open(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _connect_main(ws)

        await ws.send("41")

        assert await _recv(ws, skip_pings=False) == "2"


async def test_leaving_a_custom_namespace_leaves_the_main_one_working(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _connect_main(ws)
        await ws.send("40/custom,")
        assert str(await _recv(ws)).startswith("40/custom,")
        assert await _recv(ws) == '42/custom,["auth",{}]'

        await ws.send("41/custom,")
        await ws.send('42["message","still here"]')

        assert await _recv(ws) == '42["message-back","still here"]'


# -- Socket.IO: events, binary and acks ----------------------------------------------------


async def test_an_event_comes_back_with_its_arguments_unchanged(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _connect_main(ws)

        await ws.send('42["message",1,"2",{"3":[true]}]')

        assert await _recv(ws) == '42["message-back",1,"2",{"3":[true]}]'


async def test_an_ack_carries_the_event_arguments_back(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _connect_main(ws)

        await ws.send('42456["message-with-ack",1,"2",{"3":[false]}]')

        assert await _recv(ws) == '43456[1,"2",{"3":[false]}]'


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ('452-["message",', '452-["message-back",'),
        ('452-789["message-with-ack",', "462-789["),
    ],
)
async def test_binary_attachments_come_back_in_order(peer: Peer, sent: str, expected: str) -> None:
    placeholders = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    async with peer.websocket() as ws:
        await _connect_main(ws)

        await ws.send(sent + placeholders)
        await ws.send(b"\x01\x02\x03")
        await ws.send(b"\x04\x05\x06")

        assert [await _recv(ws) for _ in range(3)] == [
            expected + placeholders,
            b"\x01\x02\x03",
            b"\x04\x05\x06",
        ]


@pytest.mark.parametrize(
    "garbage", ["4abc", "42{}", '42abc["message-with-ack",1]'], ids=["type", "payload", "ack-id"]
)
async def test_a_malformed_socketio_packet_closes_the_connection(peer: Peer, garbage: str) -> None:
    async with peer.websocket() as ws:
        await _connect_main(ws)

        await ws.send(garbage)

        await _assert_closed_soon(ws)


async def test_a_malformed_connect_packet_closes_the_connection(peer: Peer) -> None:
    async with peer.websocket() as ws:
        await _recv(ws)

        await ws.send("4abc")

        with pytest.raises(ConnectionClosed):
            await _recv(ws)
