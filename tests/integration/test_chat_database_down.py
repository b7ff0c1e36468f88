"""A database outage: precise ``unavailable`` errors, other clients served, nothing lost.

The server talks to a real PostgreSQL through a TCP link the test can cut, which is what
a crashed database or a network partition looks like from the server's side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from baatcheet.store import RoomKind
from support.chatkit import ChatServer, TcpLink, chat_server
from support.jsclient import JsDriver

pytestmark = pytest.mark.postgres


@pytest.fixture
async def link(postgres_url: str) -> AsyncIterator[TcpLink]:
    url = make_url(postgres_url)
    tcp = TcpLink(url.host or "127.0.0.1", url.port or 5432)
    await tcp.restore()
    yield tcp
    await tcp.cut()


@pytest.fixture
async def srv(postgres_url: str, link: TcpLink) -> AsyncIterator[ChatServer]:
    through_link = make_url(postgres_url).set(port=link.port)
    async with chat_server(through_link.render_as_string(hide_password=False)) as server:
        yield server


def _send(room_id: int, body: str, client_id: str) -> dict[str, Any]:
    return {"roomId": room_id, "body": body, "clientId": client_id}


async def test_sends_during_an_outage_fail_with_unavailable_and_the_server_recovers(
    srv: ChatServer, link: TcpLink, js: JsDriver
) -> None:
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    room = await srv.chat.rooms.create(alice_s.user, "r", RoomKind.PRIVATE, [bob_s.user.username])
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    [before] = await alice.emit_with_ack("message:send", _send(room.id, "before", "c1"))
    assert before["ok"] is True
    await bob.next_event("message:new")

    await link.cut()
    [failed] = await alice.emit_with_ack("message:send", _send(room.id, "during", "c2"))
    assert failed["ok"] is False
    assert failed["error"]["code"] == "unavailable"
    # Everything that does not need the database keeps working for everyone.
    [typing] = await bob.emit_with_ack("typing:start", {"roomId": room.id})
    assert typing == {"ok": True}
    # Bob's ack came after anything sent to him before it: the failed message never was.
    seen = [r["args"][0]["body"] for r in bob.history if r.get("name") == "message:new"]
    assert seen == ["before"]
    assert (await alice.next_event("typing"))[0]["typing"] is True

    await link.restore()
    [retry] = await alice.emit_with_ack("message:send", _send(room.id, "during", "c2"))
    assert retry["ok"] is True
    [history] = await alice.emit_with_ack("history:fetch", {"roomId": room.id})
    assert [m["body"] for m in history["messages"]] == ["during", "before"]


async def test_readiness_and_rest_answer_503_while_the_database_is_down(
    srv: ChatServer, link: TcpLink
) -> None:
    base = f"http://127.0.0.1:{srv.server.port}"
    async with httpx.AsyncClient(base_url=base) as http:
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]) == (200, {"database": "ok"})
        await link.cut()
        down = await http.get("/readyz")
        assert down.status_code == 503
        assert down.json()["reason"].startswith("database: ")
        assert down.json()["status"] == "unavailable"
        # Alive all the same: restarting the process would not bring the database back.
        assert (await http.get("/healthz")).status_code == 200
        answer = await http.post(
            "/api/auth/login", json={"username": "someone", "password": "whatever1"}
        )
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "unavailable"
        await link.restore()
        assert (await http.get("/readyz")).status_code == 200


async def test_connecting_during_an_outage_gets_a_connect_error_naming_it(
    srv: ChatServer, link: TcpLink, js: JsDriver
) -> None:
    session = await srv.user()
    await link.cut()
    client = await js.connect(srv.url, auth={"token": session.access_token}, reconnection=False)
    error = await client.wait("connect_error")
    assert error["message"] == "service unavailable"
    assert error["data"] == {"code": "unavailable"}
