"""message:send and history:fetch over the official JS client, on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from baatcheet.chat.accounts import Session
from baatcheet.store import RoomKind
from support.chatkit import ChatServer, chat_server, sqlite_url
from support.jsclient import JsClient, JsDriver


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[ChatServer]:
    async with chat_server(sqlite_url(tmp_path), max_message_length=50) as server:
        yield server


async def _team(srv: ChatServer, js: JsDriver) -> tuple[int, list[Session], list[JsClient]]:
    """A private room of two users, both connected."""
    sessions = [await srv.user("alice"), await srv.user("bob")]
    room = await srv.chat.rooms.create(
        sessions[0].user, "team", RoomKind.PRIVATE, [sessions[1].user.username]
    )
    clients = [await srv.connect(js, session) for session in sessions]
    return room.id, sessions, clients


def _send(room_id: int, body: str, client_id: str) -> dict[str, Any]:
    return {"roomId": room_id, "body": body, "clientId": client_id}


async def _received(client: JsClient, event: str) -> list[Any]:
    """The first argument of every ``event`` the client got before an acked request now.

    The ack travels on the client's connection after anything the server sent it earlier,
    so it marks the end of what can have arrived: absence is proved without waiting.
    """
    [listed] = await client.emit_with_ack("rooms:list", {})
    assert listed["ok"] is True
    return [
        report["args"][0]
        for report in client.history
        if report.get("kind") == "event" and report.get("name") == event
    ]


async def test_a_sent_message_is_acked_with_id_and_ts_and_broadcast_to_the_whole_room(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, sessions, (alice, bob) = await _team(srv, js)
    [ack] = await alice.emit_with_ack("message:send", _send(room_id, "hello", "c1"))
    assert ack["ok"] is True
    [for_bob] = await bob.next_event("message:new")
    [for_alice] = await alice.next_event("message:new")
    assert for_bob == for_alice
    assert for_bob == {
        "id": ack["id"],
        "roomId": room_id,
        "author": {"id": sessions[0].user.id, "username": sessions[0].user.username},
        "body": "hello",
        "clientId": "c1",
        "ts": ack["ts"],
    }


async def test_a_broadcast_message_is_already_in_the_database(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, _, (alice, bob) = await _team(srv, js)
    await alice.emit("message:send", _send(room_id, "durable", "c1"))
    [seen] = await bob.next_event("message:new")
    stored = await srv.chat.store.get_message(seen["id"])
    assert stored is not None
    assert stored.body == "durable"


async def test_a_retry_with_the_same_client_id_returns_the_original_and_is_not_rebroadcast(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, _, (alice, bob) = await _team(srv, js)
    [first] = await alice.emit_with_ack("message:send", _send(room_id, "once", "retry-1"))
    [again] = await alice.emit_with_ack("message:send", _send(room_id, "once", "retry-1"))
    assert again == first
    assert [m["body"] for m in await _received(bob, "message:new")] == ["once"]
    page = await srv.chat.store.history(room_id, None, 10)
    assert len(page.messages) == 1


@pytest.mark.parametrize(
    ("payload", "code", "detail"),
    [
        ({"roomId": 1, "body": "   ", "clientId": "c"}, "invalid", "body"),
        ({"roomId": 1, "body": "x" * 51, "clientId": "c"}, "too_long", "limit of 50"),
        ({"roomId": "1", "body": "hi", "clientId": "c"}, "invalid", "roomId"),
        ({"roomId": 1, "body": "hi"}, "invalid", "clientId"),
        ({"roomId": 1, "body": "hi", "clientId": "c" * 65}, "invalid", "clientId"),
        ("just a string", "invalid", "object"),
    ],
)
async def test_invalid_messages_get_a_precise_error_and_nothing_is_broadcast(
    srv: ChatServer, js: JsDriver, payload: Any, code: str, detail: str
) -> None:
    room_id, _, (alice, bob) = await _team(srv, js)
    if isinstance(payload, dict) and payload.get("roomId") == 1:
        payload["roomId"] = room_id
    [ack] = await alice.emit_with_ack("message:send", payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == code
    assert detail in ack["error"]["message"]
    assert await _received(bob, "message:new") == []
    assert (await srv.chat.store.history(room_id, None, 10)).messages == ()


async def test_posting_to_a_private_room_one_is_not_in_is_not_found_like_an_unknown_room(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, _, (_, bob) = await _team(srv, js)
    outsider = await srv.connect(js, await srv.user("eve"))
    [ack] = await outsider.emit_with_ack("message:send", _send(room_id, "let me in", "c1"))
    assert ack["error"]["code"] == "not_found"
    [ack] = await outsider.emit_with_ack("message:send", _send(999_999, "hello?", "c2"))
    assert ack["error"]["code"] == "not_found"
    [ack] = await outsider.emit_with_ack("history:fetch", {"roomId": room_id})
    assert ack["error"]["code"] == "not_found"
    assert await _received(bob, "message:new") == []


async def test_one_clients_burst_is_stored_and_broadcast_in_send_order(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, _, (alice, bob) = await _team(srv, js)
    for i in range(30):
        await alice.emit("message:send", _send(room_id, f"m{i}", f"c{i}"))
    received = [(await bob.next_event("message:new"))[0] for _ in range(30)]
    assert [m["body"] for m in received] == [f"m{i}" for i in range(30)]
    ids = [m["id"] for m in received]
    assert ids == sorted(ids)


async def test_history_fetch_pages_newest_first(srv: ChatServer, js: JsDriver) -> None:
    room_id, _, (alice, _) = await _team(srv, js)
    for i in range(5):
        await alice.emit_with_ack("message:send", _send(room_id, f"m{i}", f"c{i}"))
    [page] = await alice.emit_with_ack("history:fetch", {"roomId": room_id, "limit": 3})
    assert page["ok"] is True
    assert [m["body"] for m in page["messages"]] == ["m4", "m3", "m2"]
    assert page["hasMore"] is True
    before = page["messages"][-1]["id"]
    [rest] = await alice.emit_with_ack("history:fetch", {"roomId": room_id, "before": before})
    assert [m["body"] for m in rest["messages"]] == ["m1", "m0"]
    assert rest["hasMore"] is False


async def test_an_unknown_event_gets_unknown_event(srv: ChatServer, js: JsDriver) -> None:
    client = await srv.connect(js, await srv.user())
    [ack] = await client.emit_with_ack("message:shout", {})
    assert ack["error"]["code"] == "unknown_event"
