"""Text a JavaScript client can send but no database can store: lone UTF-16 surrogates
(and NUL, which PostgreSQL refuses). It is stored with U+FFFD in their place, and never
fails the messages written along with it (they may share its transaction)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from baatcheet.store import RoomKind
from support.chatkit import ChatServer, chat_server, sqlite_url
from support.jsclient import JsClient, JsDriver

LONE_HIGH = "\ud83d"  # the first half of 😀 (U+1F600), as String.slice can leave it


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def srv(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ChatServer]:
    url = sqlite_url(tmp_path)
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    async with chat_server(url) as server:
        yield server


async def _pair(srv: ChatServer, js: JsDriver) -> tuple[int, JsClient, JsClient]:
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    room = await srv.chat.rooms.create(
        alice_s.user, "text", RoomKind.PRIVATE, [bob_s.user.username]
    )
    return room.id, await srv.connect(js, alice_s), await srv.connect(js, bob_s)


async def test_a_lone_surrogate_in_a_message_is_stored_and_broadcast_as_u_fffd(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice, bob = await _pair(srv, js)
    [ack] = await alice.emit_with_ack(
        "message:send", {"roomId": room_id, "body": f"ab{LONE_HIGH}", "clientId": "c1"}
    )
    assert ack["ok"], ack
    [message] = await bob.next_event("message:new")
    assert message["body"] == "ab\ufffd"
    stored = await srv.chat.store.get_message(ack["id"])
    assert stored is not None
    assert stored.body == "ab\ufffd"


async def test_a_surrogate_pair_sent_as_two_halves_is_kept_whole(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice, bob = await _pair(srv, js)
    await alice.emit_with_ack(
        "message:send", {"roomId": room_id, "body": "\ud83d\ude00!", "clientId": "c1"}
    )
    assert (await bob.next_event("message:new"))[0]["body"] == "😀!"


async def test_unstorable_text_sent_among_other_messages_fails_none_of_them(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice, bob = await _pair(srv, js)

    async def send(client: JsClient, body: str, client_id: str) -> Any:
        payload = {"roomId": room_id, "body": body, "clientId": client_id}
        [ack] = await client.emit_with_ack("message:send", payload)
        return ack

    acks = await asyncio.gather(
        send(bob, "innocent", "b1"),
        send(alice, f"x{LONE_HIGH}", "a1"),
        send(alice, "nul\x00byte", "a2"),
        send(bob, "bystander", "b2"),
    )
    assert [ack["ok"] for ack in acks] == [True] * 4, acks
    page = await srv.chat.store.history(room_id, None, 10)
    assert sorted(m.body for m in page.messages) == sorted(
        ["innocent", "x\ufffd", "nul\ufffdbyte", "bystander"]
    )


async def test_a_room_name_with_a_lone_surrogate_is_listed_with_u_fffd(
    srv: ChatServer, js: JsDriver
) -> None:
    client = await srv.connect(js, await srv.user())
    tag = uuid.uuid4().hex[:8]
    [created] = await client.emit_with_ack(
        "room:create", {"name": f"{tag} caf{LONE_HIGH}", "kind": "public"}
    )
    assert created["room"]["name"] == f"{tag} caf\ufffd"
    [found] = await client.emit_with_ack(
        "rooms:list", {"scope": "public", "query": f"{tag} caf{LONE_HIGH}"}
    )
    assert [room["id"] for room in found["rooms"]] == [created["room"]["id"]]


async def test_rest_refuses_json_with_a_lone_surrogate_as_not_json(srv: ChatServer) -> None:
    """REST bodies are parsed strictly (RFC 8259 text is Unicode): 400, never a 500."""
    session = await srv.user()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.server.port}") as http:
        answer = await http.post(
            "/api/rooms",
            content=b'{"name": "caf\\ud83d", "kind": "public"}',
            headers={
                "Authorization": f"Bearer {session.access_token}",
                "Content-Type": "application/json",
            },
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid"
