"""rooms:list and GET /api/rooms: pages behind a cursor, my rooms apart from the public
directory, a name search, and room creation limited per user."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from baatcheet.chat.accounts import Session
from support.chatkit import ChatServer, chat_server, sqlite_url
from support.jsclient import JsClient, JsDriver

PAGE = 3


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[ChatServer]:
    async with chat_server(
        sqlite_url(tmp_path), rooms_page_size=PAGE, room_creations_per_hour=12
    ) as server:
        yield server


async def _ack(client: JsClient, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    [answer] = await client.emit_with_ack(event, payload)
    assert isinstance(answer, dict)
    return answer


async def _walk(client: JsClient, **listing: Any) -> list[list[dict[str, Any]]]:
    """Every page of one listing, following ``nextCursor``."""
    pages: list[list[dict[str, Any]]] = []
    payload = dict(listing)
    while True:
        page = await _ack(client, "rooms:list", payload)
        assert page["ok"], page
        pages.append(page["rooms"])
        if page["nextCursor"] is None:
            return pages
        assert len(pages) < 50
        payload = {**listing, "cursor": page["nextCursor"]}


async def _create(client: JsClient, name: str, kind: str = "public", **extra: Any) -> int:
    answer = await _ack(client, "room:create", {"name": name, "kind": kind, **extra})
    assert answer["ok"], answer
    room_id: int = answer["room"]["id"]
    return room_id


async def test_public_rooms_come_in_pages_in_name_order_each_room_once(
    srv: ChatServer, js: JsDriver
) -> None:
    owner = await srv.connect(js, await srv.user("owner"))
    reader = await srv.connect(js, await srv.user("reader"))
    names = ["delta", "Alpha", "charlie", "bravo", "echo", "alpha", "Foxtrot"]
    ids = {await _create(owner, name): name for name in names}

    pages = await _walk(reader, scope="public")
    assert [len(page) for page in pages] == [3, 3, 1]
    listed = [room["id"] for page in pages for room in page]
    assert listed == sorted(ids, key=lambda room_id: (ids[room_id].lower(), room_id))
    assert all("members" not in room for page in pages for room in page)


async def test_a_client_may_ask_for_smaller_pages_but_not_larger_ones(
    srv: ChatServer, js: JsDriver
) -> None:
    owner = await srv.connect(js, await srv.user("owner"))
    for name in "abcde":
        await _create(owner, name)
    assert len((await _ack(owner, "rooms:list", {"scope": "public", "limit": 2}))["rooms"]) == 2
    larger = await _ack(owner, "rooms:list", {"scope": "public", "limit": 100})
    assert len(larger["rooms"]) == PAGE
    assert larger["nextCursor"] is not None


async def test_my_rooms_are_all_there_across_pages_and_nobody_elses_are(
    srv: ChatServer, js: JsDriver
) -> None:
    me_s, other_s = await srv.user("me"), await srv.user("other")
    me, other = await srv.connect(js, me_s), await srv.connect(js, other_s)
    mine = {await _create(me, f"mine {n}", "private") for n in range(3)}
    public = await _create(other, "joined later")
    await _ack(me, "room:join", {"roomId": public})
    mine.add(public)
    mine.add((await _ack(me, "dm:open", {"username": other_s.user.username}))["room"]["id"])
    await _create(other, "not mine")
    await _create(other, "not mine either", "private")

    pages = await _walk(me, scope="joined")
    rooms = [room for page in pages for room in page]
    assert {room["id"] for room in rooms} == mine
    assert len(rooms) == len(mine)
    direct = [room for room in rooms if room["kind"] == "direct"]
    assert [len(room["members"]) for room in direct] == [2]
    # No scope means my rooms: what an old client asking for "the list" needs first.
    assert (await _walk(me)) == pages


async def test_a_search_finds_public_rooms_whose_name_starts_with_it_in_any_case(
    srv: ChatServer, js: JsDriver
) -> None:
    owner = await srv.connect(js, await srv.user("owner"))
    reader = await srv.connect(js, await srv.user("reader"))
    lovers = await _create(owner, "Rust lovers")
    rustaceans = await _create(owner, "rustaceans")
    await _create(owner, "trust issues")
    await _create(owner, "rust secrets", "private")

    found = await _walk(reader, scope="public", query="RUST")
    assert [room["id"] for page in found for room in page] == [lovers, rustaceans]
    assert await _walk(reader, scope="public", query="rusty") == [[]]


async def test_a_search_is_paged_too(srv: ChatServer, js: JsDriver) -> None:
    owner = await srv.connect(js, await srv.user("owner"))
    for n in range(4):
        await _create(owner, f"team {n}")
    await _create(owner, "other")
    pages = await _walk(owner, scope="public", query="team")
    assert [[room["name"] for room in page] for page in pages] == [
        ["team 0", "team 1", "team 2"],
        ["team 3"],
    ]


async def test_a_cursor_works_only_for_the_listing_it_came_from(
    srv: ChatServer, js: JsDriver
) -> None:
    owner = await srv.connect(js, await srv.user("owner"))
    for name in "abcd":
        await _create(owner, name)
    cursor = (await _ack(owner, "rooms:list", {"scope": "public"}))["nextCursor"]
    other_listing = await _ack(owner, "rooms:list", {"scope": "joined", "cursor": cursor})
    assert other_listing["error"]["code"] == "invalid"
    assert other_listing["error"]["message"].startswith("cursor: it continues another listing")
    for forged in ("not-a-cursor", "W10", cursor[:-2]):
        answer = await _ack(owner, "rooms:list", {"scope": "public", "cursor": forged})
        assert answer["error"] == {
            "code": "invalid",
            "message": "cursor: not a cursor this server gave out",
        }, forged


async def test_rest_lists_rooms_in_the_same_pages(srv: ChatServer, js: JsDriver) -> None:
    session = await srv.user("owner")
    owner = await srv.connect(js, session)
    for name in "abcde":
        await _create(owner, name)
    headers = {"Authorization": f"Bearer {session.access_token}"}
    names: list[str] = []
    params: dict[str, str] = {"scope": "public", "limit": "2"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.server.port}") as http:
        while True:
            answer = await http.get("/api/rooms", params=params, headers=headers)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            names += [room["name"] for room in body["rooms"]]
            if body["nextCursor"] is None:
                break
            params = {"scope": "public", "limit": "2", "cursor": body["nextCursor"]}
        searched = await http.get("/api/rooms?scope=public&query=C", headers=headers)
        refused = await http.get("/api/rooms?scope=everything", headers=headers)
    assert names == list("abcde")
    assert [room["name"] for room in searched.json()["rooms"]] == ["c"]
    assert refused.status_code == 422


async def test_room_creation_is_limited_per_user_and_says_when_to_retry(
    tmp_path: Path, js: JsDriver
) -> None:
    async with chat_server(sqlite_url(tmp_path), room_creations_per_hour=3) as srv:
        spammer_s, other_s = await srv.user("spammer"), await srv.user("other")
        spammer, other = await srv.connect(js, spammer_s), await srv.connect(js, other_s)
        for n in range(3):
            await _create(spammer, f"spam {n}")
        refused = await _ack(spammer, "room:create", {"name": "spam 3", "kind": "public"})
        assert refused["error"]["code"] == "rate_limited"
        message = refused["error"]["message"]
        assert re.fullmatch(r"you may create 3 rooms an hour; retry in (\d+) s", message), message
        assert 1100 <= int(message.split()[-2]) <= 1200  # one room every 20 minutes
        # Someone else is not affected, and REST shares the same allowance.
        await _create(other, "mine")
        answer = await _rest_create(srv, spammer_s, "spam over rest")
        assert answer.status_code == 429
        assert answer.json()["error"]["code"] == "rate_limited"
        assert 1100 <= int(answer.headers["retry-after"]) <= 1200


async def _rest_create(srv: ChatServer, session: Session, name: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.server.port}") as http:
        return await http.post(
            "/api/rooms",
            json={"name": name, "kind": "public"},
            headers={"Authorization": f"Bearer {session.access_token}"},
        )


async def test_a_refused_room_creation_costs_nothing_of_the_allowance(
    tmp_path: Path, js: JsDriver
) -> None:
    async with chat_server(sqlite_url(tmp_path), room_creations_per_hour=1) as srv:
        client = await srv.connect(js, await srv.user())
        typo = {"name": "r", "kind": "private", "members": ["nobody_by_that_name"]}
        assert (await _ack(client, "room:create", typo))["error"]["code"] == "not_found"
        await _create(client, "the one room of this hour")
