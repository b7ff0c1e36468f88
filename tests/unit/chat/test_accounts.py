"""Accounts: argon2 passwords, JWT verification, refresh rotation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from baatcheet.chat.accounts import Accounts, address_key
from baatcheet.errors import (
    AccountDisabledError,
    AuthError,
    RateLimitedError,
    RefreshReuseError,
    TokenExpiredError,
)
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


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def _throttled(store: Store, clock: Clock, **limits: Any) -> Accounts:
    return Accounts(store, Settings(jwt_secret=SECRET, **limits), SECRET, clock=clock)


async def test_failed_logins_lock_the_username_until_a_failure_refills(store: Store) -> None:
    clock = Clock()
    accounts = await _throttled(store, clock, auth_failures_per_hour_per_username=3)
    await accounts.register("ada", "correct horse")
    for _ in range(3):
        with pytest.raises(AuthError, match="wrong username or password"):
            await accounts.login("ada", "wrong horse", address="192.0.2.1")
    with pytest.raises(RateLimitedError, match="retry in 1200 s") as caught:
        await accounts.login("ada", "correct horse", address="192.0.2.2")
    assert caught.value.scope == "username"
    assert caught.value.retry_after_s == pytest.approx(1200)
    with pytest.raises(AuthError, match="wrong username or password"):  # others are not locked
        await accounts.login("bob", "wrong horse", address="192.0.2.1")
    clock.now += 1200
    assert (await accounts.login("ada", "correct horse")).user.username == "ada"


async def test_an_unknown_username_locks_exactly_like_a_real_one(store: Store) -> None:
    accounts = await _throttled(store, Clock(), auth_failures_per_hour_per_username=2)
    for _ in range(2):
        with pytest.raises(AuthError, match="wrong username or password"):
            await accounts.login("nobody", "wrong horse")
    with pytest.raises(RateLimitedError, match="too many failed logins"):
        await accounts.login("nobody", "wrong horse")


async def test_successful_logins_do_not_count_toward_the_username_lock(store: Store) -> None:
    accounts = await _throttled(store, Clock(), auth_failures_per_hour_per_username=2)
    await accounts.register("ada", "correct horse")
    for _ in range(5):
        await accounts.login("ada", "correct horse")
    for _ in range(2):
        with pytest.raises(AuthError, match="wrong username or password"):
            await accounts.login("ada", "wrong horse")
    with pytest.raises(RateLimitedError):
        await accounts.login("ada", "wrong horse")


async def test_one_address_shares_its_attempts_between_register_login_and_refresh(
    store: Store,
) -> None:
    clock = Clock()
    accounts = await _throttled(store, clock, auth_attempts_per_minute_per_address=3)
    session = await accounts.register("ada", "correct horse", address="192.0.2.1")
    await accounts.login("ada", "correct horse", address="192.0.2.1")
    await accounts.refresh(session.refresh_token, address="192.0.2.1")
    with pytest.raises(RateLimitedError, match="retry in 20 s") as caught:
        await accounts.register("bob", "correct horse", address="192.0.2.1")
    assert caught.value.scope == "address"
    assert await store.get_credentials("bob") is None  # refused before any work
    assert (await accounts.login("ada", "correct horse", address="192.0.2.9")).user
    clock.now += 20
    assert (await accounts.register("bob", "correct horse", address="192.0.2.1")).user


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("unknown", "unknown"),
    ],
)
def test_ipv6_clients_are_throttled_by_their_64_and_ipv4_as_is(address: str, key: str) -> None:
    assert address_key(address) == key


async def test_a_disabled_account_is_refused_login_refresh_and_its_tokens(
    accounts: Accounts,
) -> None:
    session = await accounts.register("ada", "correct horse")
    assert (await accounts.authenticate(session.access_token)).user == session.user
    assert await accounts.set_disabled("ada", True) == session.user
    # Only someone who knows the password learns that the account is disabled.
    with pytest.raises(AccountDisabledError, match="disabled"):
        await accounts.login("ada", "correct horse")
    with pytest.raises(AuthError, match="wrong username or password") as wrong:
        await accounts.login("ada", "wrong horse")
    assert not isinstance(wrong.value, AccountDisabledError)
    with pytest.raises(AuthError, match="log in again"):
        await accounts.refresh(session.refresh_token)
    # The access token is still genuine and unexpired: verify alone cannot tell.
    assert accounts.verify(session.access_token).user == session.user
    with pytest.raises(AccountDisabledError):
        await accounts.authenticate(session.access_token)


async def test_an_enabled_account_logs_in_again_but_its_old_logins_stay_out(
    accounts: Accounts,
) -> None:
    session = await accounts.register("ada", "correct horse")
    await accounts.set_disabled("ada", True)
    await accounts.set_disabled("ada", False)
    assert (await accounts.authenticate(session.access_token)).user == session.user
    with pytest.raises(AuthError, match="log in again"):
        await accounts.refresh(session.refresh_token)
    again = await accounts.login("ada", "correct horse")
    assert (await accounts.refresh(again.refresh_token)).user == session.user


async def test_operators_create_accounts_and_change_passwords_without_sessions(
    accounts: Accounts, store: Store
) -> None:
    created = await accounts.create_user("ada", "correct horse")
    credentials = await store.get_credentials("ada")
    assert credentials is not None and credentials.password_hash.startswith("$argon2id$")
    session = await accounts.login("ada", "correct horse")
    assert await accounts.set_password("ada", "battery staple") == created
    with pytest.raises(AuthError, match="wrong username or password"):
        await accounts.login("ada", "correct horse")
    with pytest.raises(AuthError, match="log in again"):
        await accounts.refresh(session.refresh_token)
    assert (await accounts.login("ada", "battery staple")).user == created
    assert await accounts.set_password("nobody", "battery staple") is None
    assert await accounts.set_disabled("nobody", True) is None
