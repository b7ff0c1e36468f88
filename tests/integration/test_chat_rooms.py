"""Rooms over the socket: create, join, leave, list, direct messages, authorisation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from support.chatkit import ChatServer, chat_server, sqlite_url
from support.jsclient import JsDriver


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[ChatServer]:
    async with chat_server(sqlite_url(tmp_path)) as server:
        yield server


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

    [listed] = await eve.emit_with_ack("rooms:list", {})
    assert room["id"] not in [r["id"] for r in listed["rooms"]]
    [join] = await eve.emit_with_ack("room:join", {"roomId": room["id"]})
    assert join["error"]["code"] == "forbidden"

    # Bob was put in the room live, so he gets messages without joining by hand.
    await alice.emit_with_ack("message:send", {"roomId": room["id"], "body": "hi", "clientId": "1"})
    assert (await bob.next_event("message:new"))[0]["body"] == "hi"
    await eve.assert_silent("event", name="message:new", within=0.3)


async def test_anyone_can_join_a_public_room_and_leaving_stops_delivery(
    srv: ChatServer, js: JsDriver
) -> None:
    alice = await srv.connect(js, await srv.user("alice"))
    bob = await srv.connect(js, await srv.user("bob"))
    [created] = await alice.emit_with_ack("room:create", {"name": "lobby", "kind": "public"})
    room_id = created["room"]["id"]
    [listed] = await bob.emit_with_ack("rooms:list")
    assert room_id in [r["id"] for r in listed["rooms"]]
    [joined] = await bob.emit_with_ack("room:join", {"roomId": room_id})
    assert joined["ok"] and joined["room"]["id"] == room_id

    await alice.emit_with_ack("message:send", {"roomId": room_id, "body": "a", "clientId": "1"})
    assert (await bob.next_event("message:new"))[0]["body"] == "a"

    [left] = await bob.emit_with_ack("room:leave", {"roomId": room_id})
    assert left == {"ok": True}
    await alice.emit_with_ack("message:send", {"roomId": room_id, "body": "b", "clientId": "2"})
    await bob.assert_silent("event", name="message:new", within=0.3)
    [refused] = await bob.emit_with_ack(
        "message:send", {"roomId": room_id, "body": "c", "clientId": "3"}
    )
    assert refused["error"]["code"] == "forbidden"


async def test_joining_a_room_that_does_not_exist_is_not_found(
    srv: ChatServer, js: JsDriver
) -> None:
    client = await srv.connect(js, await srv.user())
    [ack] = await client.emit_with_ack("room:join", {"roomId": 424242})
    assert ack["error"] == {"code": "not_found", "message": "room 424242 does not exist"}


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
    [leave] = await bob.emit_with_ack("room:leave", {"roomId": room["id"]})
    assert leave["error"]["code"] == "forbidden"


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
