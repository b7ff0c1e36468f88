"""Presence, typing indicators and receipts over the official JS client."""

from __future__ import annotations

import asyncio
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
    async with chat_server(sqlite_url(tmp_path), typing_expiry_ms=400) as server:
        yield server


async def _pair(srv: ChatServer) -> tuple[int, Session, Session]:
    alice, bob = await srv.user("alice"), await srv.user("bob")
    room = await srv.chat.rooms.create(alice.user, "r", RoomKind.PRIVATE, [bob.user.username])
    return room.id, alice, bob


def _user(session: Session) -> dict[str, object]:
    return {"id": session.user.id, "username": session.user.username}


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


async def test_members_see_each_other_come_online_and_go_offline(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice_s, bob_s = await _pair(srv)
    alice = await srv.connect(js, alice_s)
    bob = await srv.connect(js, bob_s)
    assert await alice.next_event("presence") == [
        {"roomId": room_id, "user": _user(bob_s), "online": True}
    ]
    [listed] = await alice.emit_with_ack("presence:list", {"roomId": room_id})
    assert listed["users"] == [_user(alice_s), _user(bob_s)]
    await bob.disconnect()
    assert await alice.next_event("presence") == [
        {"roomId": room_id, "user": _user(bob_s), "online": False}
    ]


async def test_a_second_tab_does_not_announce_the_user_twice(srv: ChatServer, js: JsDriver) -> None:
    _, alice_s, bob_s = await _pair(srv)
    alice = await srv.connect(js, alice_s)
    await srv.connect(js, bob_s)
    await alice.next_event("presence")
    second = await srv.connect(js, bob_s)
    assert len(await _received(alice, "presence")) == 1
    # The tab leaves on its own connection: wait until the server has handled that (our
    # handler runs after the chat's own), then mark.
    gone = asyncio.Event()
    srv.server.of("/chat").sockets[(await second.state())["sid"]].on(
        "disconnect", lambda _reason: gone.set()
    )
    await second.disconnect()
    await asyncio.wait_for(gone.wait(), 5)
    assert len(await _received(alice, "presence")) == 1


async def test_typing_reaches_everyone_but_the_typist_and_expires(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice_s, bob_s = await _pair(srv)
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    [ack] = await alice.emit_with_ack("typing:start", {"roomId": room_id})
    assert ack == {"ok": True}
    assert await bob.next_event("typing") == [
        {"roomId": room_id, "user": _user(alice_s), "typing": True}
    ]
    # Nobody said typing:stop; the indicator switches itself off after typing_expiry_ms.
    assert await bob.next_event("typing", timeout=2) == [
        {"roomId": room_id, "user": _user(alice_s), "typing": False}
    ]
    assert await _received(alice, "typing") == []


async def test_typing_stop_clears_the_indicator_at_once(srv: ChatServer, js: JsDriver) -> None:
    room_id, alice_s, bob_s = await _pair(srv)
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    await alice.emit_with_ack("typing:start", {"roomId": room_id})
    await bob.next_event("typing")
    await alice.emit_with_ack("typing:stop", {"roomId": room_id})
    [stopped] = await bob.next_event("typing", timeout=0.3)
    assert stopped["typing"] is False


async def test_typing_in_someone_elses_private_room_is_not_found(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, _, _ = await _pair(srv)
    eve = await srv.connect(js, await srv.user("eve"))
    [ack] = await eve.emit_with_ack("typing:start", {"roomId": room_id})
    assert ack["error"]["code"] == "not_found"


async def test_the_sender_sees_sent_then_delivered_then_read(srv: ChatServer, js: JsDriver) -> None:
    room_id, alice_s, bob_s = await _pair(srv)
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    [sent] = await alice.emit_with_ack(
        "message:send", {"roomId": room_id, "body": "did you get this?", "clientId": "q1"}
    )
    assert sent["ok"] is True
    [message] = await bob.next_event("message:new")
    for state in ("delivered", "read"):
        [ack] = await bob.emit_with_ack(
            f"receipt:{state}", {"roomId": room_id, "messageId": message["id"]}
        )
        assert ack == {"ok": True}
        assert await alice.next_event("receipt") == [
            {"roomId": room_id, "messageId": sent["id"], "user": _user(bob_s), "state": state}
        ]
    assert await _received(bob, "receipt") == []


async def test_a_receipt_for_a_message_in_another_room_is_not_found(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice_s, bob_s = await _pair(srv)
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    [sent] = await alice.emit_with_ack(
        "message:send", {"roomId": room_id, "body": "x", "clientId": "q1"}
    )
    other = await srv.chat.rooms.create(bob_s.user, "solo", RoomKind.PRIVATE, [])
    [ack] = await bob.emit_with_ack("receipt:read", {"roomId": other.id, "messageId": sent["id"]})
    assert ack["error"]["code"] == "not_found"
    assert await _received(alice, "receipt") == []


async def test_presence_of_a_public_room_is_visible_before_joining_but_not_of_a_private_one(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice_s, _ = await _pair(srv)
    public = await srv.chat.rooms.create(alice_s.user, "lobby", RoomKind.PUBLIC, [])
    await srv.connect(js, alice_s)
    eve = await srv.connect(js, await srv.user("eve"))
    [listed] = await eve.emit_with_ack("presence:list", {"roomId": public.id})
    assert listed["users"] == [_user(alice_s)]
    [refused] = await eve.emit_with_ack("presence:list", {"roomId": room_id})
    assert refused["error"]["code"] == "not_found"


async def test_receipts_are_stored_so_a_reloaded_sender_still_sees_read(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice_s, bob_s = await _pair(srv)
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    sent = []
    for number in (1, 2):
        [ack] = await alice.emit_with_ack(
            "message:send", {"roomId": room_id, "body": f"m{number}", "clientId": f"c{number}"}
        )
        sent.append(ack["id"])
    await bob.emit_with_ack("receipt:delivered", {"roomId": room_id, "messageId": sent[1]})
    await bob.emit_with_ack("receipt:read", {"roomId": room_id, "messageId": sent[0]})
    await alice.disconnect()

    reloaded = await srv.connect(js, alice_s)
    [page] = await reloaded.emit_with_ack("history:fetch", {"roomId": room_id})
    assert page["receipts"] == {"deliveredUpTo": sent[1], "readUpTo": sent[0]}
    # Bob's own history shows what alice got of his messages: nothing yet.
    [bobs_page] = await bob.emit_with_ack("history:fetch", {"roomId": room_id})
    assert bobs_page["receipts"] == {"deliveredUpTo": 0, "readUpTo": 0}


async def test_a_receipt_that_moves_no_cursor_is_acked_but_not_relayed(
    srv: ChatServer, js: JsDriver
) -> None:
    room_id, alice_s, bob_s = await _pair(srv)
    alice, bob = await srv.connect(js, alice_s), await srv.connect(js, bob_s)
    [sent] = await alice.emit_with_ack(
        "message:send", {"roomId": room_id, "body": "hi", "clientId": "c1"}
    )
    receipt = {"roomId": room_id, "messageId": sent["id"]}
    assert await bob.emit_with_ack("receipt:read", receipt) == [{"ok": True}]
    await alice.next_event("receipt")
    second_tab = await srv.connect(js, bob_s)
    assert await second_tab.emit_with_ack("receipt:read", receipt) == [{"ok": True}]
    assert await bob.emit_with_ack("receipt:delivered", receipt) == [{"ok": True}]
    assert len(await _received(alice, "receipt")) == 1
