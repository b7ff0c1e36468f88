"""Sign-in limits and refresh-token families over real HTTP, against a running server.

Clients that must look like different machines connect from different loopback
addresses (127.0.0.0/8 is all loopback on Linux), so the server sees distinct peers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from baatcheet.chat.passwords import Passwords
from support.chatkit import PASSWORD, ChatServer, chat_server, sqlite_url


@asynccontextmanager
async def _http(srv: ChatServer, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose connections come from ``address``."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    base_url = f"http://127.0.0.1:{srv.server.port}"
    async with httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30) as client:
        yield client


def _credentials(username: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password}


def _name() -> str:
    return f"u_{uuid.uuid4().hex[:10]}"


def _rate_limited(answer: httpx.Response, retry_after: int) -> bool:
    """A 429 ``rate_limited`` whose ``Retry-After`` is ``retry_after`` s, less the few
    seconds the test may have taken since its first attempt (the bucket refills meanwhile)."""
    body: dict[str, Any] = answer.json()
    return (
        answer.status_code == 429
        and retry_after - 5 <= int(answer.headers["retry-after"]) <= retry_after
        and body["error"]["code"] == "rate_limited"
    )


async def test_failed_logins_for_one_username_answer_429_from_every_address(
    tmp_path: Path,
) -> None:
    async with chat_server(sqlite_url(tmp_path), auth_failures_per_hour_per_username=3) as srv:
        victim = (await srv.user("victim")).user.username
        async with _http(srv, "127.0.0.2") as guesser, _http(srv, "127.0.0.3") as owner:
            for _ in range(3):
                wrong = await guesser.post("/api/auth/login", json=_credentials(victim, "guess..."))
                assert wrong.status_code == 401
            locked = await guesser.post("/api/auth/login", json=_credentials(victim, "guess..."))
            assert _rate_limited(locked, retry_after=1200)  # 3 per hour: one back per 20 min
            assert "too many failed logins" in locked.json()["error"]["message"]
            # The lock is on the username, whoever asks, even with the right password ...
            right = await owner.post("/api/auth/login", json=_credentials(victim))
            assert _rate_limited(right, retry_after=1200)
            # ... and only on that username.
            other = await srv.user("other")
            fine = await guesser.post("/api/auth/login", json=_credentials(other.user.username))
            assert fine.status_code == 200


async def test_one_address_gets_its_attempts_per_minute_then_429(tmp_path: Path) -> None:
    limits = {"auth_attempts_per_minute_per_address": 4}
    async with (
        chat_server(sqlite_url(tmp_path), **limits) as srv,
        _http(srv, "127.0.0.4") as flooder,
        _http(srv, "127.0.0.5") as bystander,
    ):
        garbage = {"refreshToken": "not-a-token"}
        answers = [await flooder.post("/api/auth/refresh", json=garbage) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [401] * 4
        assert _rate_limited(await flooder.post("/api/auth/refresh", json=garbage), 15)
        # Logins and registrations draw on the same allowance, refused before any hashing.
        name = _name()
        refused = await flooder.post("/api/auth/register", json=_credentials(name))
        assert _rate_limited(refused, retry_after=15)
        assert await srv.chat.store.get_credentials(name) is None
        login = await flooder.post("/api/auth/login", json=_credentials(name))
        assert login.status_code == 429
        # Another address is not affected.
        welcome = await bystander.post("/api/auth/register", json=_credentials(name))
        assert welcome.status_code == 201


async def test_a_registration_flood_hashes_no_more_passwords_at_once_than_allowed(
    tmp_path: Path,
) -> None:
    async with chat_server(sqlite_url(tmp_path), password_hash_concurrency=2) as srv:

        async def register(index: int) -> int:
            async with _http(srv, f"127.0.0.{10 + index}") as client:
                answer = await client.post("/api/auth/register", json=_credentials(_name()))
                return answer.status_code

        statuses = await asyncio.gather(*(register(i) for i in range(16)))
        assert statuses == [201] * 16
        # Measured inside the hashing threads: 16 requests at once, never 3 hashes at once.
        assert srv.chat.accounts.passwords.peak_running == 2


async def test_a_full_hashing_queue_answers_503_at_once_with_retry_after(
    tmp_path: Path,
) -> None:
    async with chat_server(sqlite_url(tmp_path)) as srv:
        # One slow hasher (≈ 100 ms a hash) and room for one request in the queue, so a
        # burst of 8 cannot all be admitted whatever the machine's speed.
        slow = PasswordHasher(time_cost=40, memory_cost=8192, parallelism=1)
        srv.chat.accounts.passwords = Passwords(1, waiting_per_worker=1, hasher=slow)

        async def register(index: int) -> httpx.Response:
            async with _http(srv, f"127.0.0.{40 + index}") as client:
                return await client.post("/api/auth/register", json=_credentials(_name()))

        answers = await asyncio.gather(*(register(i) for i in range(8)))
        statuses = Counter(answer.status_code for answer in answers)
        assert statuses[201] >= 2
        assert statuses[201] + statuses[503] == 8
        refused = [answer for answer in answers if answer.status_code == 503]
        assert refused
        for answer in refused:
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["error"]["code"] == "overloaded"
        assert srv.chat.accounts.passwords.peak_running == 1


async def test_replays_inside_the_reuse_window_all_get_the_same_successor(
    tmp_path: Path,
) -> None:
    async with chat_server(sqlite_url(tmp_path)) as srv, _http(srv) as http:
        session = (await http.post("/api/auth/register", json=_credentials(_name()))).json()
        old = {"refreshToken": session["refreshToken"]}
        answers = [await http.post("/api/auth/refresh", json=old) for _ in range(6)]
        assert [answer.status_code for answer in answers] == [200] * 6
        successors = {answer.json()["refreshToken"] for answer in answers}
        assert len(successors) == 1
        assert successors != {session["refreshToken"]}
        # The successor is a working token, and so is the access token of every replay.
        me = await http.get(
            "/api/me", headers={"Authorization": f"Bearer {answers[-1].json()['accessToken']}"}
        )
        assert me.status_code == 200
        nxt = await http.post("/api/auth/refresh", json={"refreshToken": successors.pop()})
        assert nxt.status_code == 200


async def test_a_replay_after_the_reuse_window_revokes_the_whole_login(tmp_path: Path) -> None:
    async with (
        chat_server(sqlite_url(tmp_path), refresh_token_reuse_s=0.2) as srv,
        _http(srv) as http,
    ):
        name = _name()
        first = (await http.post("/api/auth/register", json=_credentials(name))).json()
        elsewhere = (await http.post("/api/auth/login", json=_credentials(name))).json()

        async def refresh(token: str) -> httpx.Response:
            return await http.post("/api/auth/refresh", json={"refreshToken": token})

        second = (await refresh(first["refreshToken"])).json()
        newest = (await refresh(second["refreshToken"])).json()
        await asyncio.sleep(0.3)
        replay = await refresh(first["refreshToken"])  # a thief's copy, too late
        assert replay.status_code == 401
        assert "signed out" in replay.json()["error"]["message"]
        # The family is dead, the newest token of its rightful owner included ...
        assert (await refresh(newest["refreshToken"])).status_code == 401
        assert (await refresh(second["refreshToken"])).status_code == 401
        # ... while the user's other login is another family, untouched.
        assert (await refresh(elsewhere["refreshToken"])).status_code == 200
