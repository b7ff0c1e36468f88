"""To an outsider, a private room or a direct conversation of others does not exist.

Every event that takes a room id, and the REST history route, must answer an outsider
exactly as it answers an id that was never used, so room ids cannot be probed.
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

NEVER_USED = 987_654

EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("room:join", {}),
    ("room:leave", {}),
    ("history:fetch", {}),
    ("presence:list", {}),
    ("message:send", {"body": "let me in", "clientId": "probe"}),
    ("typing:start", {}),
    ("typing:stop", {}),
    ("receipt:delivered", {"messageId": 1}),
    ("receipt:read", {"messageId": 1}),
]


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[ChatServer]:
    async with chat_server(sqlite_url(tmp_path)) as server:
        yield server


async def _hidden_rooms(srv: ChatServer) -> tuple[int, int]:
    """A private room and a direct room of alice and bob."""
    alice, bob = (await srv.user("alice")).user, (await srv.user("bob")).user
    private = await srv.chat.rooms.create(alice, "secret", RoomKind.PRIVATE, [bob.username])
    direct = await srv.chat.rooms.open_direct(alice, bob.username)
    return private.id, direct.id


def _shape(error: dict[str, Any], room_id: int) -> dict[str, Any]:
    """The error with the room id blanked: all that may differ between two rooms."""
    return {**error, "message": error["message"].replace(str(room_id), "<id>")}


async def _error(client: JsClient, event: str, extra: dict[str, Any], room_id: int) -> Any:
    [answer] = await client.emit_with_ack(event, {"roomId": room_id, **extra})
    assert answer["ok"] is False, (event, room_id, answer)
    return _shape(answer["error"], room_id)


@pytest.mark.parametrize(("event", "extra"), EVENTS, ids=[event for event, _ in EVENTS])
async def test_a_hidden_room_answers_like_a_room_that_does_not_exist(
    srv: ChatServer, js: JsDriver, event: str, extra: dict[str, Any]
) -> None:
    private, direct = await _hidden_rooms(srv)
    eve = await srv.connect(js, await srv.user("eve"))

    missing = await _error(eve, event, extra, NEVER_USED)
    assert missing["code"] == "not_found"
    assert await _error(eve, event, extra, private) == missing
    assert await _error(eve, event, extra, direct) == missing


async def test_rest_history_of_a_hidden_room_is_the_same_404_as_of_a_missing_one(
    srv: ChatServer,
) -> None:
    private, direct = await _hidden_rooms(srv)
    eve: Session = await srv.user("eve")
    headers = {"Authorization": f"Bearer {eve.access_token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.server.port}") as http:
        answers = {
            room_id: await http.get(f"/api/rooms/{room_id}/messages", headers=headers)
            for room_id in (NEVER_USED, private, direct)
        }
    assert {answer.status_code for answer in answers.values()} == {404}
    shapes = [_shape(answer.json()["error"], room_id) for room_id, answer in answers.items()]
    assert shapes[0]["code"] == "not_found"
    assert shapes == [shapes[0]] * 3


async def test_a_hidden_room_stays_closed_after_the_probes(srv: ChatServer, js: JsDriver) -> None:
    """The probes above change nothing: the outsider is no member afterwards."""
    private, direct = await _hidden_rooms(srv)
    eve_s = await srv.user("eve")
    eve = await srv.connect(js, eve_s)
    for event, extra in EVENTS:
        for room_id in (private, direct):
            await eve.emit_with_ack(event, {"roomId": room_id, **extra})
    for room_id in (private, direct):
        assert not await srv.chat.store.is_member(room_id, eve_s.user.id)
        assert (await srv.chat.store.history(room_id, None, 10)).messages == ()
