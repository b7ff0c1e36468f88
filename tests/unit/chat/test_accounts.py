"""Accounts: argon2 passwords, JWT verification, refresh rotation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest

from baatcheet.chat.accounts import Accounts
from baatcheet.errors import AuthError, RefreshReuseError, TokenExpiredError
from baatcheet.settings import Settings
from baatcheet.store import Store, User, open_store

SECRET = "s" * 40


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    yield opened
    await opened.close()


@pytest.fixture
async def accounts(store: Store) -> Accounts:
    return await Accounts.open(store, Settings(jwt_secret=SECRET))


async def test_passwords_are_stored_as_argon2_hashes(accounts: Accounts, store: Store) -> None:
    await accounts.register("ada", "correct horse")
    credentials = await store.get_credentials("ada")
    assert credentials is not None
    assert credentials.password_hash.startswith("$argon2id$")
    assert "correct horse" not in credentials.password_hash


async def test_login_refuses_a_wrong_password_and_an_unknown_user_alike(
    accounts: Accounts,
) -> None:
    await accounts.register("ada", "correct horse")
    assert (await accounts.login("ada", "correct horse")).user.username == "ada"
    with pytest.raises(AuthError, match="wrong username or password"):
        await accounts.login("ada", "wrong horse")
    with pytest.raises(AuthError, match="wrong username or password"):
        await accounts.login("nobody", "wrong horse")


async def test_an_access_token_verifies_to_its_user(accounts: Accounts) -> None:
    session = await accounts.register("ada", "correct horse")
    claims = accounts.verify(session.access_token)
    assert claims.user == session.user
    assert claims.expires_at_ms == session.expires_at_ms


def test_a_token_signed_with_another_secret_is_invalid(accounts: Accounts) -> None:
    forged = jwt.encode(
        {"sub": "1", "name": "ada", "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256"
    )
    with pytest.raises(AuthError, match="invalid token") as caught:
        accounts.verify(forged)
    assert not isinstance(caught.value, TokenExpiredError)


def test_an_unsigned_token_is_invalid(accounts: Accounts) -> None:
    unsigned = jwt.encode({"sub": "1", "name": "ada", "exp": 9_999_999_999}, None, "none")
    with pytest.raises(AuthError, match="invalid token"):
        accounts.verify(unsigned)


def test_an_expired_token_says_so(accounts: Accounts) -> None:
    expired = jwt.encode(
        {"sub": "1", "name": "ada", "exp": int(time.time()) - 5}, SECRET, algorithm="HS256"
    )
    with pytest.raises(TokenExpiredError, match="token expired"):
        accounts.verify(expired)


@pytest.mark.parametrize("token", [None, "", 42, "not-a-jwt"])
def test_garbage_is_an_invalid_token(accounts: Accounts, token: object) -> None:
    with pytest.raises(AuthError, match="invalid token"):
        accounts.verify(token)


async def test_refresh_rotates_the_refresh_token(accounts: Accounts) -> None:
    session = await accounts.register("ada", "correct horse")
    renewed = await accounts.refresh(session.refresh_token)
    assert renewed.user == User(session.user.id, "ada")
    assert renewed.refresh_token != session.refresh_token
    assert accounts.verify(renewed.access_token).user == renewed.user
    assert (await accounts.refresh(renewed.refresh_token)).user == renewed.user


async def test_a_replay_inside_the_window_gets_the_same_successor(accounts: Accounts) -> None:
    session = await accounts.register("ada", "correct horse")
    first = await accounts.refresh(session.refresh_token)  # the answer a reloading page lost
    replays = [await accounts.refresh(session.refresh_token) for _ in range(5)]
    assert {replay.refresh_token for replay in replays} == {first.refresh_token}
    assert all(replay.user == User(session.user.id, "ada") for replay in replays)


async def test_a_replay_after_the_window_signs_the_whole_login_out(store: Store) -> None:
    accounts = await Accounts.open(store, Settings(jwt_secret=SECRET, refresh_token_reuse_s=0))
    session = await accounts.register("ada", "correct horse")
    other_login = await accounts.login("ada", "correct horse")
    renewed = await accounts.refresh(session.refresh_token)
    newest = await accounts.refresh(renewed.refresh_token)
    with pytest.raises(RefreshReuseError, match="log in again"):
        await accounts.refresh(session.refresh_token)
    with pytest.raises(AuthError, match="log in again") as caught:
        await accounts.refresh(newest.refresh_token)
    assert not isinstance(caught.value, RefreshReuseError)  # refused, not a second revocation
    assert (await accounts.refresh(other_login.refresh_token)).user == session.user


async def test_successors_depend_on_the_server_secret(store: Store) -> None:
    ours = await Accounts.open(store, Settings(jwt_secret=SECRET))
    session = await ours.register("ada", "correct horse")
    theirs = await Accounts.open(store, Settings(jwt_secret="t" * 40))
    # Another key derives another successor, which the store refuses inside the window
    # instead of starting a second chain.
    first = await ours.refresh(session.refresh_token)
    with pytest.raises(AuthError, match="log in again"):
        await theirs.refresh(session.refresh_token)
    assert (await ours.refresh(session.refresh_token)).refresh_token == first.refresh_token


async def test_without_a_configured_secret_the_stored_one_is_reused(store: Store) -> None:
    first = await Accounts.open(store, Settings())
    token, _ = first.issue_access(User(1, "ada"))
    second = await Accounts.open(store, Settings())
    assert second.verify(token).user == User(1, "ada")
