"""What a signed-in user who is not in a room can learn about it: nothing.

A third user, connected to ``/chat`` like everyone else and sharing another room with the
members, must not read a direct conversation's history (socket or REST) nor see typing in a
room they are not in. Absence is proved without sleeping: the outsider's own acked request
is answered on the same connection after anything the server sent it before, so once that
ack is in, whatever was not received was never sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from baatcheet.chat.accounts import Session
from baatcheet.store import RoomKind
from support.chatkit import ChatServer, chat_server, sqlite_url
from support.jsclient import JsClient, JsDriver

pytestmark = pytest.mark.timeout(60)

REFUSALS = {"forbidden", "not_found"}
"""How an outsider is turned away: ``forbidden`` today; ``not_found`` would also leak nothing."""


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[ChatServer]:
    async with chat_server(sqlite_url(tmp_path)) as server:
        yield server


async def _events_so_far(client: JsClient, name: str) -> list[list[Any]]:
    """Every ``name`` event the client got before an acked request it makes now."""
    [listed] = await client.emit_with_ack("rooms:list", {})
    assert listed["ok"] is True
    return [
        report["args"]
        for report in client.history
        if report.get("kind") == "event" and report.get("name") == name
    ]


def _user(session: Session) -> dict[str, object]:
    return {"id": session.user.id, "username": session.user.username}


async def test_a_direct_conversation_is_closed_to_a_third_user_over_socket_and_rest(
    srv: ChatServer, js: JsDriver
) -> None:
    alice_s, bob_s, eve_s = await srv.user("alice"), await srv.user("bob"), await srv.user("eve")
    alice, eve = await srv.connect(js, alice_s), await srv.connect(js, eve_s)
    [opened] = await alice.emit_with_ack("dm:open", {"username": bob_s.user.username})
    dm = opened["room"]["id"]
    [sent] = await alice.emit_with_ack(
        "message:send", {"roomId": dm, "body": "just between us", "clientId": "1"}
    )
    assert sent["ok"] is True

    for event in ("history:fetch", "presence:list"):
        [refused] = await eve.emit_with_ack(event, {"roomId": dm})
        assert refused["ok"] is False, f"{event} let an outsider in: {refused}"
        assert refused["error"]["code"] in REFUSALS
    [listed] = await eve.emit_with_ack("rooms:list", {})
    assert dm not in [room["id"] for room in listed["rooms"]]

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.server.port}") as http:
        url = f"/api/rooms/{dm}/messages"
        outsider = await http.get(url, headers={"Authorization": f"Bearer {eve_s.access_token}"})
        member = await http.get(url, headers={"Authorization": f"Bearer {bob_s.access_token}"})
    assert outsider.status_code in (403, 404), outsider.text
    assert outsider.json()["error"]["code"] in REFUSALS
    assert "just between us" not in outsider.text
    assert member.status_code == 200
    assert [m["body"] for m in member.json()["messages"]] == ["just between us"]


async def test_typing_reaches_the_room_and_no_one_outside_it(srv: ChatServer, js: JsDriver) -> None:
    alice_s, bob_s, eve_s = await srv.user("alice"), await srv.user("bob"), await srv.user("eve")
    rooms = srv.chat.rooms
    team = await rooms.create(alice_s.user, "team", RoomKind.PRIVATE, [bob_s.user.username])
    # Eve shares another room with alice, so she is in the namespace and in alice's company.
    await rooms.create(alice_s.user, "other", RoomKind.PRIVATE, [eve_s.user.username])
    alice, bob, eve = [await srv.connect(js, s) for s in (alice_s, bob_s, eve_s)]

    assert await alice.emit_with_ack("typing:start", {"roomId": team.id}) == [{"ok": True}]
    assert await bob.next_event("typing") == [
        {"roomId": team.id, "user": _user(alice_s), "typing": True}
    ]
    assert await alice.emit_with_ack("typing:stop", {"roomId": team.id}) == [{"ok": True}]
    assert await bob.next_event("typing") == [
        {"roomId": team.id, "user": _user(alice_s), "typing": False}
    ]
    assert await _events_so_far(eve, "typing") == []
    assert await _events_so_far(alice, "typing") == []  # nor back to the typist
