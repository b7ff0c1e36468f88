"""The REST API over HTTP semantics (httpx over ASGI), on a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from baatcheet.chat.service import ChatService
from baatcheet.settings import Settings
from baatcheet.store import NewMessage, User
from baatcheet.web.api import api_routes


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[ChatService]:
    service = await ChatService.open(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}", refresh_token_reuse_s=0
        )
    )
    yield service
    await service.close()


@pytest.fixture
async def http(chat: ChatService) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=api_routes(chat))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _register(http: httpx.AsyncClient, username: str = "alice") -> dict[str, Any]:
    answer = await http.post(
        "/api/auth/register", json={"username": username, "password": "correct horse"}
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _auth(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['accessToken']}"}


async def test_register_answers_201_with_tokens_and_the_user(http: httpx.AsyncClient) -> None:
    session = await _register(http)
    assert session["user"]["username"] == "alice"
    assert session["accessToken"] and session["refreshToken"]
    me = await http.get("/api/me", headers=_auth(session))
    assert me.json() == {"user": session["user"]}


async def test_a_taken_username_answers_409(http: httpx.AsyncClient) -> None:
    await _register(http)
    again = await http.post(
        "/api/auth/register", json={"username": "alice", "password": "another one"}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


async def test_a_short_password_answers_422_naming_the_field(http: httpx.AsyncClient) -> None:
    answer = await http.post("/api/auth/register", json={"username": "bob", "password": "x"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid"
    assert "password" in answer.json()["error"]["message"]


async def test_login_with_the_right_password_works_and_the_wrong_one_answers_401(
    http: httpx.AsyncClient,
) -> None:
    await _register(http)
    good = await http.post(
        "/api/auth/login", json={"username": "alice", "password": "correct horse"}
    )
    assert good.status_code == 200
    bad = await http.post("/api/auth/login", json={"username": "alice", "password": "wrong pass"})
    assert bad.status_code == 401
    nobody = await http.post(
        "/api/auth/login", json={"username": "nobody", "password": "wrong pass"}
    )
    assert nobody.json() == bad.json()


async def test_a_refresh_token_works_once(http: httpx.AsyncClient) -> None:
    session = await _register(http)
    first = await http.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert first.status_code == 200
    assert (await http.get("/api/me", headers=_auth(first.json()))).status_code == 200
    replay = await http.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert replay.status_code == 401


async def test_malformed_json_answers_400(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]["message"]


async def test_a_body_over_one_megabyte_answers_413(http: httpx.AsyncClient) -> None:
    answer = await http.post("/api/auth/login", content=b" " * 1_000_001)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"


async def test_forged_and_missing_tokens_answer_401(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/me")).status_code == 401
    forged = await http.get("/api/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_token"


async def test_rooms_can_be_created_and_listed(http: httpx.AsyncClient) -> None:
    alice = await _register(http, "alice")
    await _register(http, "bob")
    created = await http.post(
        "/api/rooms",
        json={"name": "plans", "kind": "private", "members": ["bob"]},
        headers=_auth(alice),
    )
    assert created.status_code == 201
    room = created.json()["room"]
    assert room["kind"] == "private"
    assert [m["username"] for m in room["members"]] == ["alice", "bob"]
    listed = await http.get("/api/rooms", headers=_auth(alice))
    assert [r["id"] for r in listed.json()["rooms"]] == [room["id"]]


async def test_history_pages_newest_first_and_refuses_outsiders(
    http: httpx.AsyncClient, chat: ChatService
) -> None:
    alice = await _register(http, "alice")
    outsider = await _register(http, "eve")
    room = (
        await http.post(
            "/api/rooms", json={"name": "secret", "kind": "private"}, headers=_auth(alice)
        )
    ).json()["room"]
    author = User(alice["user"]["id"], "alice")
    for i in range(5):
        await chat.store.append_message(NewMessage(room["id"], author, f"m{i}", f"c{i}"))
    url = f"/api/rooms/{room['id']}/messages"
    page = (await http.get(url, params={"limit": 2}, headers=_auth(alice))).json()
    assert [m["body"] for m in page["messages"]] == ["m4", "m3"]
    assert page["hasMore"] is True
    before = page["messages"][-1]["id"]
    rest = (await http.get(url, params={"before": before}, headers=_auth(alice))).json()
    assert [m["body"] for m in rest["messages"]] == ["m2", "m1", "m0"]
    assert rest["hasMore"] is False
    assert (await http.get(url, headers=_auth(outsider))).status_code == 404
    missing = await http.get("/api/rooms/999999/messages", headers=_auth(alice))
    assert missing.status_code == 404
    bad_limit = await http.get(url, params={"limit": 1000}, headers=_auth(alice))
    assert bad_limit.status_code == 422


async def test_history_carries_the_other_members_receipt_cursors(
    http: httpx.AsyncClient, chat: ChatService
) -> None:
    alice = await _register(http, "alice")
    bob = await _register(http, "bob")
    room = (
        await http.post(
            "/api/rooms",
            json={"name": "pair", "kind": "private", "members": ["bob"]},
            headers=_auth(alice),
        )
    ).json()["room"]
    author = User(alice["user"]["id"], "alice")
    appended = await chat.store.append_message(NewMessage(room["id"], author, "hi", "c1"))
    await chat.store.advance_receipt(room["id"], bob["user"]["id"], appended.message.id, read=True)
    page = (await http.get(f"/api/rooms/{room['id']}/messages", headers=_auth(alice))).json()
    assert page["receipts"] == {
        "deliveredUpTo": appended.message.id,
        "readUpTo": appended.message.id,
    }
