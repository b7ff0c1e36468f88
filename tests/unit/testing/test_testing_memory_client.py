"""The in-memory test client runs the server's real handshake, middleware, rooms and acks.

No port is opened: every server here is a ``Server`` object that was never started.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from baatcheet.client import ConnectionFailedError, DisconnectReason
from baatcheet.engine.http import HttpRequest
from baatcheet.errors import AckTimeoutError, ConnectRejected
from baatcheet.settings import Settings
from baatcheet.sio import DynamicNamespace, Namespace, Server, Socket
from baatcheet.testing import ReceivedEvent, TestClient, connect_test_client
from baatcheet.testing.plugin import TestClientFactory

pytestmark = pytest.mark.timeout(30)


def build_server(**settings: Any) -> Server:
    """The curriculum's examples: a chat message for everyone, a token, rooms, acks."""
    server = Server(Settings(tune_gc=False, **settings))

    @server.use
    def require_token(socket: Socket) -> None:
        token = socket.handshake.auth.get("token")
        if not token:
            raise ConnectRejected("Authentication error: no token", {"code": "no_token"})
        socket.data["user"] = token

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.emit("welcome", socket.data["user"])
        socket.on("chat message", lambda message: server.emit("chat message", message))
        socket.on("joinRoom", socket.join)
        socket.on("room message", lambda room, text: server.to(room).emit("room message", text))
        socket.on("updateItem", lambda item: {"status": "ok", "id": item["id"]})
        socket.on("echo", lambda *args: args)
        socket.on("kick me", socket.disconnect)

        async def quiz_me(question: str) -> Any:
            try:
                (answer,) = await socket.emit_with_ack("quiz", question, timeout=0.2)
            except AckTimeoutError:
                return "no answer"
            return answer

        socket.on("quiz me", quiz_me)

    admin: Namespace = server.of("/admin")

    @admin.use
    def admins_only(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "root":
            raise ConnectRejected("admins only")

    admin.on("connection", lambda socket: socket.on("whoami", lambda: "admin"))
    return server


@pytest.fixture
def baatcheet_app() -> Server:
    """The plugin's in-memory factory connects to this server."""
    return build_server()


async def test_a_chat_message_reaches_every_client_including_the_sender(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    alice = await baatcheet_connect_in_memory(auth={"token": "alice"})
    bob = await baatcheet_connect_in_memory(auth={"token": "bob"})
    alice.emit("chat message", "namaste")
    assert await bob.next_event("chat message") == ["namaste"]
    assert await alice.next_event("chat message") == ["namaste"]


async def test_events_sent_by_the_connection_handler_are_kept_from_the_first_one(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await baatcheet_connect_in_memory(auth={"token": "asha"})
    assert await client.next_event("welcome") == ["asha"]
    assert client.received == [("welcome", ["asha"])]
    assert client.received[0] == ReceivedEvent("welcome", ["asha"])


async def test_middleware_refusal_raises_connect_rejected_with_its_message_and_data(
    baatcheet_app: Server,
) -> None:
    with pytest.raises(ConnectRejected) as refused:
        await connect_test_client(baatcheet_app, auth={})
    assert refused.value.message == "Authentication error: no token"
    assert refused.value.data == {"code": "no_token"}
    assert not baatcheet_app.main.sockets
    assert not baatcheet_app.engine.sessions


async def test_the_server_socket_carries_what_the_middleware_stored(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await baatcheet_connect_in_memory(auth={"token": "ravi"})
    assert client.server_socket.data == {"user": "ravi"}
    assert client.server_socket.id == client.id
    assert client.server_socket.handshake.auth == {"token": "ravi"}


async def test_a_joined_room_is_visible_on_the_server_and_only_members_get_its_messages(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    member = await baatcheet_connect_in_memory(auth={"token": "m"})
    outsider = await baatcheet_connect_in_memory(auth={"token": "o"})
    member.emit("joinRoom", "game-123")
    await member.emit_with_ack("echo")  # the join was handled before this answer
    assert member.rooms == {member.id, "game-123"}
    assert outsider.rooms == {outsider.id}
    outsider.emit("room message", "game-123", "Hello Room!")
    outsider.emit("chat message", "marker")
    assert await member.next_event("room message") == ["Hello Room!"]
    await outsider.next_event("chat message")
    assert ("room message", ["Hello Room!"]) not in outsider.received


async def test_an_acknowledgement_returns_the_handlers_answer(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await baatcheet_connect_in_memory(auth={"token": "a"})
    answer = await client.emit_with_ack("updateItem", {"id": 123, "value": "new value"})
    assert answer == [{"status": "ok", "id": 123}]


async def test_binary_arguments_travel_as_bytes_both_ways(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await baatcheet_connect_in_memory(auth={"token": "a"})
    args = [b"\x00\xff", {"nested": [b"x", "text"]}, None]
    assert await client.emit_with_ack("echo", *args) == args


async def test_the_client_answers_the_servers_ack_request_with_its_handlers_return(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await baatcheet_connect_in_memory(auth={"token": "a"})
    client.on("quiz", lambda question: f"{question}? 42")
    assert await client.emit_with_ack("quiz me", "answer") == ["answer? 42"]


async def test_a_server_ack_request_left_unanswered_times_out_on_the_server(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await baatcheet_connect_in_memory(auth={"token": "a"})
    assert await client.emit_with_ack("quiz me", "anyone") == ["no answer"]


async def test_emit_with_ack_times_out_when_the_server_holds_its_answer(
    baatcheet_app: Server, baatcheet_connect_in_memory: TestClientFactory
) -> None:
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "late"

    baatcheet_app.on("connection", lambda socket: socket.on("slow", slow))
    client = await baatcheet_connect_in_memory(auth={"token": "a"})
    with pytest.raises(AckTimeoutError):
        await client.emit_with_ack("slow", timeout=0.05)
    release.set()
    assert await client.emit_with_ack("echo", 1) == [1]


async def test_another_namespace_shares_the_connection_and_runs_its_own_middleware(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    main = await baatcheet_connect_in_memory(auth={"token": "root"})
    admin = await main.of("/admin")
    assert await admin.emit_with_ack("whoami") == ["admin"]
    assert admin.client is main.client
    user = await baatcheet_connect_in_memory(auth={"token": "user"})
    with pytest.raises(ConnectRejected, match="admins only"):
        await user.of("/admin")
    assert await user.emit_with_ack("echo", "still here") == ["still here"]


async def test_the_server_disconnecting_the_socket_is_io_server_disconnect(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await baatcheet_connect_in_memory(auth={"token": "a"})
    client.emit("kick me")
    assert await client.next_event("disconnect") == [DisconnectReason.IO_SERVER_DISCONNECT]
    assert not client.connected


async def test_a_client_leaving_is_a_client_namespace_disconnect_on_the_server(
    baatcheet_app: Server, baatcheet_connect_in_memory: TestClientFactory
) -> None:
    reasons: asyncio.Queue[str] = asyncio.Queue()
    baatcheet_app.on("connection", lambda socket: socket.on("disconnect", reasons.put_nowait))
    client = await baatcheet_connect_in_memory(auth={"token": "a"})
    await client.disconnect()
    assert await asyncio.wait_for(reasons.get(), 5) == "client namespace disconnect"
    assert not baatcheet_app.main.sockets


async def test_the_handshake_shows_the_given_headers_query_and_address() -> None:
    server = build_server()
    seen: list[dict[str, Any]] = []

    def remember(socket: Socket) -> None:
        handshake = socket.handshake
        seen.append(
            {
                "header": handshake.headers.get("x-app-version"),
                "query": handshake.query.get("room"),
                "address": handshake.address,
            }
        )

    server.on("connection", remember)
    async with await connect_test_client(
        server,
        auth={"token": "a"},
        headers={"X-App-Version": "7"},
        query={"room": "lobby"},
        address=("203.0.113.9", 5000),
    ):
        pass
    assert seen == [{"header": "7", "query": "lobby", "address": "203.0.113.9"}]


async def test_next_event_names_what_did_arrive_when_the_awaited_event_does_not(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await baatcheet_connect_in_memory(auth={"token": "zoya"})
    with pytest.raises(AssertionError, match=r"no 'never' event within 0.05s; received: welcome"):
        await client.next_event("never", timeout=0.05)


async def test_a_handshake_refused_by_allow_request_is_a_connection_failure() -> None:
    def only_with_a_cookie(request: HttpRequest) -> bool:
        return request.header(b"cookie") == "session=1"

    server = Server(Settings(tune_gc=False), allow_request=only_with_a_cookie)
    with pytest.raises(ConnectionFailedError) as failure:
        await connect_test_client(server)
    assert failure.value.status == 403
    async with await connect_test_client(server, headers={"Cookie": "session=1"}) as client:
        assert client.connected


async def test_the_servers_own_rate_limit_answers_a_flood(
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    client = await connect_test_client(
        build_server(packet_rate_per_s=1, packet_burst=3), auth={"token": "a"}
    )
    answers = [await client.emit_with_ack("echo", n) for n in range(4)]
    assert answers[:2] == [[0], [1]]
    assert answers[-1][0]["error"] == "rate_limited"
    await client.disconnect()


async def test_an_oversized_message_ends_the_connection_as_on_a_real_websocket() -> None:
    server = build_server(max_payload_bytes=1000)
    reasons: asyncio.Queue[str] = asyncio.Queue()
    server.on("connection", lambda socket: socket.on("disconnect", reasons.put_nowait))
    client = await connect_test_client(server, auth={"token": "a"})
    client.emit("echo", "x" * 2000)
    assert await client.next_event("disconnect") == [DisconnectReason.TRANSPORT_CLOSE]
    assert await asyncio.wait_for(reasons.get(), 5) == "payload too large"


async def test_a_test_client_is_not_collected_as_a_test_class() -> None:
    assert TestClient.__test__ is False


async def test_server_backpressure_holds_and_then_delivers_every_event_in_order() -> None:
    server = build_server(inbound_max_pending_handlers=2)
    release = asyncio.Event()
    handled: list[int] = []

    async def slow(n: int) -> int:
        await release.wait()
        handled.append(n)
        return n

    server.on("connection", lambda socket: socket.on("slow", slow))
    async with await connect_test_client(server, auth={"token": "a"}) as client:
        pending = [asyncio.ensure_future(client.emit_with_ack("slow", n)) for n in range(10)]
        await asyncio.sleep(0.05)
        assert handled == []
        release.set()
        assert await asyncio.gather(*pending) == [[n] for n in range(10)]
        assert handled == list(range(10))


async def test_a_dynamic_namespace_is_created_on_demand_and_its_socket_found() -> None:
    server = build_server()
    teams: DynamicNamespace = server.of(re.compile(r"/team-\w+"))
    teams.on("connection", lambda socket: socket.on("where", lambda: socket.nsp.name))
    async with await connect_test_client(server, "/team-blue", {"token": "a"}) as client:
        assert await client.emit_with_ack("where") == ["/team-blue"]
        assert client.server_socket.nsp is teams.children["/team-blue"]
    with pytest.raises(ConnectRejected, match="Invalid namespace"):
        await connect_test_client(server, "/nobody", {"token": "a"})
