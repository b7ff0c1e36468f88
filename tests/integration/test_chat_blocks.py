"""user:block and user:unblock: a blocked user cannot reach the blocker directly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from baatcheet.chat.accounts import Session
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


def _name(session: Session) -> dict[str, str]:
    return {"username": session.user.username}


async def test_a_blocked_user_cannot_open_a_direct_room_with_the_blocker(
    srv: ChatServer, js: JsDriver
) -> None:
    bob_s, eve_s = await srv.user("bob"), await srv.user("eve")
    bob, eve = await srv.connect(js, bob_s), await srv.connect(js, eve_s)
    blocked = await _ack(bob, "user:block", _name(eve_s))
    assert blocked == {"ok": True, "user": {"id": eve_s.user.id, "username": eve_s.user.username}}

    refused = await _ack(eve, "dm:open", _name(bob_s))
    assert refused["error"] == {
        "code": "forbidden",
        "message": f"you cannot message {bob_s.user.username}",
    }
    await bob.assert_silent("event", name="room:updated", within=0.3)
    assert (await _ack(bob, "rooms:list", {"scope": "joined"}))["rooms"] == []
    # The blocker is told why, and how to undo it.
    mine = await _ack(bob, "dm:open", _name(eve_s))
    assert mine["error"]["code"] == "forbidden"
    assert mine["error"]["message"].endswith("unblock them first")


async def test_a_blocked_user_adding_the_blocker_to_a_room_leaves_them_out_silently(
    srv: ChatServer, js: JsDriver
) -> None:
    bob_s, carol_s, eve_s = await srv.user("bob"), await srv.user("carol"), await srv.user("eve")
    bob, eve = await srv.connect(js, bob_s), await srv.connect(js, eve_s)
    await _ack(bob, "user:block", _name(eve_s))

    members = [bob_s.user.username, carol_s.user.username]
    created = await _ack(
        eve, "room:create", {"name": "ambush", "kind": "private", "members": members}
    )
    room = created["room"]
    assert [m["id"] for m in room["members"]] == [carol_s.user.id, eve_s.user.id]
    await bob.assert_silent("event", name="room:updated", within=0.3)
    await _ack(eve, "message:send", {"roomId": room["id"], "body": "hey bob", "clientId": "1"})
    await bob.assert_silent("event", name="message:new", within=0.3)
    assert (await _ack(bob, "room:join", {"roomId": room["id"]}))["error"]["code"] == "not_found"


async def test_a_block_closes_an_existing_direct_room_both_ways_until_it_is_lifted(
    srv: ChatServer, js: JsDriver
) -> None:
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    room_id = (await _ack(alice, "dm:open", _name(bob_s)))["room"]["id"]
    await bob.next_event("room:updated")
    send = {"roomId": room_id, "body": "hi", "clientId": "1"}
    assert (await _ack(alice, "message:send", send))["ok"]
    assert (await bob.next_event("message:new"))[0]["body"] == "hi"

    await _ack(bob, "user:block", _name(alice_s))
    # alice's socket is already in the room (no lookup needed to post): still refused.
    for event, payload in [
        ("message:send", {**send, "body": "why?", "clientId": "2"}),
        ("typing:start", {"roomId": room_id}),
    ]:
        answer = await _ack(alice, event, payload)
        assert answer["error"]["code"] == "forbidden", (event, answer)
    assert (await _ack(bob, "message:send", {**send, "clientId": "3"}))["error"]["code"] == (
        "forbidden"
    )
    await bob.assert_silent("event", name="message:new", within=0.3)
    await bob.assert_silent("event", name="typing", within=0.1)
    history = await _ack(bob, "history:fetch", {"roomId": room_id})
    assert [m["body"] for m in history["messages"]] == ["hi"]

    assert (await _ack(bob, "user:unblock", _name(alice_s)))["ok"]
    assert (await _ack(alice, "message:send", {**send, "body": "sorry", "clientId": "4"}))["ok"]
    assert (await bob.next_event("message:new"))[0]["body"] == "sorry"


async def test_a_block_counts_for_a_socket_that_was_in_the_room_before_it_was_set(
    srv: ChatServer, js: JsDriver
) -> None:
    """A block set without any socket of this node knowing (as on another node) counts
    at once: posting in a direct room asks the store, not what this node saw."""
    alice_s, bob_s = await srv.user("alice"), await srv.user("bob")
    room_id = (await srv.chat.rooms.open_direct(alice_s.user, bob_s.user.username)).id
    alice_phone = await srv.connect(js, alice_s)
    await srv.chat.rooms.block(bob_s.user, alice_s.user.username)
    answer = await _ack(
        alice_phone, "message:send", {"roomId": room_id, "body": "x", "clientId": "1"}
    )
    assert answer["error"]["code"] == "forbidden"


async def test_blocking_needs_a_real_other_user(srv: ChatServer, js: JsDriver) -> None:
    me_s = await srv.user("me")
    me = await srv.connect(js, me_s)
    assert (await _ack(me, "user:block", {"username": "nobody_here"}))["error"]["code"] == (
        "not_found"
    )
    assert (await _ack(me, "user:block", _name(me_s)))["error"]["code"] == "invalid"
    assert (await _ack(me, "user:unblock", {"username": "x"}))["error"]["code"] == "invalid"


async def test_a_block_does_not_keep_the_blocked_user_out_of_public_rooms(
    srv: ChatServer, js: JsDriver
) -> None:
    bob_s, eve_s = await srv.user("bob"), await srv.user("eve")
    bob, eve = await srv.connect(js, bob_s), await srv.connect(js, eve_s)
    assert (await _ack(bob, "user:block", _name(eve_s)))["ok"]
    room_id = (await _ack(bob, "room:create", {"name": "town square", "kind": "public"}))["room"][
        "id"
    ]
    assert (await _ack(eve, "room:join", {"roomId": room_id}))["ok"]
    await _ack(eve, "message:send", {"roomId": room_id, "body": "hello all", "clientId": "1"})
    assert (await bob.next_event("message:new"))[0]["body"] == "hello all"
