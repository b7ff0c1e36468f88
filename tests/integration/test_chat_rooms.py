"""Rooms over the socket: create, join, leave, list, direct messages, authorisation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.chatkit import ChatServer, chat_server, sqlite_url
from support.jsclient import JsClient, JsDriver


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[ChatServer]:
    async with chat_server(sqlite_url(tmp_path)) as server:
        yield server


async def _ack(client: JsClient, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    [answer] = await client.emit_with_ack(event, payload)
    assert isinstance(answer, dict)
    return answer


async def _public_ids(client: JsClient) -> list[int]:
    """Every public room, following the cursor to the end."""
    ids: list[int] = []
    payload: dict[str, Any] = {"scope": "public"}
    while True:
        page = await _ack(client, "rooms:list", payload)
        ids += [room["id"] for room in page["rooms"]]
        if page["nextCursor"] is None:
            return ids
        payload = {"scope": "public", "cursor": page["nextCursor"]}


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


async def test_a_private_room_reaches_its_members_and_stays_closed_to_others(
    srv: ChatServer, js: JsDriver
) -> None:
    alice_s, bob_s, eve_s = await srv.user("alice"), await srv.user("bob"), await srv.user("eve")
    alice, bob, eve = [await srv.connect(js, s) for s in (alice_s, bob_s, eve_s)]
    [created] = await alice.emit_with_ack(
        "room:create", {"name": "plans", "kind": "private", "members": [bob_s.user.username]}
    )
    room = created["room"]
    assert room["kind"] == "private"
    assert [m["id"] for m in room["members"]] == [alice_s.user.id, bob_s.user.id]
    assert await bob.next_event("room:updated") == [room]

    assert room["id"] not in await _public_ids(eve)
    assert (await _ack(eve, "rooms:list", {"scope": "joined"}))["rooms"] == []
    join = await _ack(eve, "room:join", {"roomId": room["id"]})
    assert join["error"]["code"] == "not_found"

    # Bob was put in the room live, so he gets messages without joining by hand.
    await alice.emit_with_ack("message:send", {"roomId": room["id"], "body": "hi", "clientId": "1"})
    assert (await bob.next_event("message:new"))[0]["body"] == "hi"
    assert await _received(eve, "message:new") == []


async def test_anyone_can_join_a_public_room_and_leaving_stops_delivery(
    srv: ChatServer, js: JsDriver
) -> None:
    alice = await srv.connect(js, await srv.user("alice"))
    bob = await srv.connect(js, await srv.user("bob"))
    [created] = await alice.emit_with_ack("room:create", {"name": "lobby", "kind": "public"})
    room_id = created["room"]["id"]
    assert room_id in await _public_ids(bob)
    [joined] = await bob.emit_with_ack("room:join", {"roomId": room_id})
    assert joined["ok"] and joined["room"]["id"] == room_id
    mine = await _ack(bob, "rooms:list", {"scope": "joined"})
    assert [room["id"] for room in mine["rooms"]] == [room_id]

    await alice.emit_with_ack("message:send", {"roomId": room_id, "body": "a", "clientId": "1"})
    assert (await bob.next_event("message:new"))[0]["body"] == "a"

    [left] = await bob.emit_with_ack("room:leave", {"roomId": room_id})
    assert left == {"ok": True}
    await alice.emit_with_ack("message:send", {"roomId": room_id, "body": "b", "clientId": "2"})
    assert [m["body"] for m in await _received(bob, "message:new")] == ["a"]
    [refused] = await bob.emit_with_ack(
        "message:send", {"roomId": room_id, "body": "c", "clientId": "3"}
    )
    assert refused["error"]["code"] == "forbidden"


async def test_joining_a_room_that_does_not_exist_is_not_found(
    srv: ChatServer, js: JsDriver
) -> None:
    client = await srv.connect(js, await srv.user())
    [ack] = await client.emit_with_ack("room:join", {"roomId": 424242})
    assert ack["error"] == {
        "code": "not_found",
        "message": "room 424242 not found (it does not exist or you are no member)",
    }


async def test_dm_open_gives_both_users_the_same_direct_room(srv: ChatServer, js: JsDriver) -> None:
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    [opened] = await alice.emit_with_ack("dm:open", {"username": bob_s.user.username})
    room = opened["room"]
    assert room["kind"] == "direct"
    assert await bob.next_event("room:updated") == [room]
    [again] = await bob.emit_with_ack("dm:open", {"username": alice_s.user.username})
    assert again["room"]["id"] == room["id"]
    await alice.emit_with_ack(
        "message:send", {"roomId": room["id"], "body": "psst", "clientId": "1"}
    )
    assert (await bob.next_event("message:new"))[0]["body"] == "psst"


async def test_a_left_direct_room_comes_back_with_its_history_when_it_is_opened_again(
    srv: ChatServer, js: JsDriver
) -> None:
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    room = (await _ack(alice, "dm:open", {"username": bob_s.user.username}))["room"]
    await bob.next_event("room:updated")

    assert await _ack(bob, "room:leave", {"roomId": room["id"]}) == {"ok": True}
    assert (await _ack(bob, "rooms:list", {"scope": "joined"}))["rooms"] == []
    sent = {"roomId": room["id"], "body": "still there?", "clientId": "1"}
    assert (await _ack(alice, "message:send", sent))["ok"]
    assert await _received(bob, "message:new") == []
    history = await _ack(bob, "history:fetch", {"roomId": room["id"]})
    assert history["error"]["code"] == "not_found"

    reopened = (await _ack(alice, "dm:open", {"username": bob_s.user.username}))["room"]
    assert reopened["id"] == room["id"]
    assert await bob.next_event("room:updated") == [reopened]
    history = await _ack(bob, "history:fetch", {"roomId": room["id"]})
    assert [m["body"] for m in history["messages"]] == ["still there?"]
    await _ack(alice, "message:send", {**sent, "body": "welcome back", "clientId": "2"})
    assert (await bob.next_event("message:new"))[0]["body"] == "welcome back"


async def test_a_member_may_leave_a_private_room_for_good(srv: ChatServer, js: JsDriver) -> None:
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    create = {"name": "unwanted", "kind": "private", "members": [bob_s.user.username]}
    room_id = (await _ack(alice, "room:create", create))["room"]["id"]
    await bob.next_event("room:updated")

    assert await _ack(bob, "room:leave", {"roomId": room_id}) == {"ok": True}
    await _ack(alice, "message:send", {"roomId": room_id, "body": "hello?", "clientId": "1"})
    assert await _received(bob, "message:new") == []
    assert (await _ack(bob, "room:join", {"roomId": room_id}))["error"]["code"] == "not_found"


async def test_dm_open_with_an_unknown_user_is_not_found(srv: ChatServer, js: JsDriver) -> None:
    client = await srv.connect(js, await srv.user())
    [ack] = await client.emit_with_ack("dm:open", {"username": "nobody_here"})
    assert ack["error"]["code"] == "not_found"


async def test_membership_survives_a_reconnect(srv: ChatServer, js: JsDriver) -> None:
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    alice = await srv.connect(js, alice_s)
    [created] = await alice.emit_with_ack(
        "room:create", {"name": "p", "kind": "private", "members": [bob_s.user.username]}
    )
    bob = await srv.connect(js, bob_s)
    room_id = created["room"]["id"]
    await alice.emit_with_ack("message:send", {"roomId": room_id, "body": "x", "clientId": "1"})
    assert (await bob.next_event("message:new"))[0]["body"] == "x"


async def test_a_room_created_over_rest_reaches_its_members_live_sockets(
    srv: ChatServer, js: JsDriver
) -> None:
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    bob = await srv.connect(js, bob_s)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.server.port}") as http:
        answer = await http.post(
            "/api/rooms",
            json={"name": "rest", "kind": "private", "members": [bob_s.user.username]},
            headers={"Authorization": f"Bearer {alice_s.access_token}"},
        )
    assert answer.status_code == 201
    room = answer.json()["room"]
    assert await bob.next_event("room:updated") == [room]
    alice = await srv.connect(js, alice_s)
    await alice.emit_with_ack(
        "message:send", {"roomId": room["id"], "body": "hey", "clientId": "1"}
    )
    assert (await bob.next_event("message:new"))[0]["body"] == "hey"
