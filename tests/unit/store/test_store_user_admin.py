"""What operators change on accounts (baatcheet user ...): passwords and the disabled flag."""

from __future__ import annotations

import uuid

from baatcheet.store import RefreshOutcome, Store, User

FAR = 9_000_000_000_000


def _name() -> str:
    return f"u_{uuid.uuid4().hex[:12]}"


async def test_a_new_user_is_enabled(store: Store) -> None:
    user = await store.create_user(_name(), "h")
    credentials = await store.get_credentials(user.username)
    assert credentials is not None
    assert not credentials.disabled
    assert not await store.is_disabled(user.id)


async def test_disabling_shows_in_credentials_until_enabled_again(store: Store) -> None:
    user = await store.create_user(_name(), "h")
    assert await store.set_disabled(user.username, True) == user
    assert await store.set_disabled(user.username, True) == user  # idempotent
    credentials = await store.get_credentials(user.username)
    assert credentials is not None and credentials.disabled
    assert await store.is_disabled(user.id)
    assert await store.set_disabled(user.username, False) == user
    assert not await store.is_disabled(user.id)


async def test_disabling_revokes_every_login_and_enabling_brings_none_back(store: Store) -> None:
    user = await store.create_user(_name(), "h")
    first, second = f"a-{user.id}", f"b-{user.id}"
    for token in (first, second):
        await store.add_refresh_token(token, user.id, FAR)
    await store.set_disabled(user.username, True)
    await store.set_disabled(user.username, False)
    for token in (first, second):
        rotation = await store.rotate_refresh_token(token, f"{token}-next", FAR, 1_000)
        assert rotation.outcome is RefreshOutcome.REFUSED


async def test_a_refresh_token_of_a_disabled_user_is_refused_even_if_issued_after(
    store: Store,
) -> None:
    # A login racing the disable can store a token after the revocation ran.
    user = await store.create_user(_name(), "h")
    await store.set_disabled(user.username, True)
    await store.add_refresh_token(f"late-{user.id}", user.id, FAR)
    refused = await store.rotate_refresh_token(f"late-{user.id}", "next", FAR, 1_000)
    assert refused.outcome is RefreshOutcome.REFUSED
    await store.set_disabled(user.username, False)
    rotated = await store.rotate_refresh_token(f"late-{user.id}", f"n-{user.id}", FAR, 2_000)
    assert rotated.outcome is RefreshOutcome.ROTATED


async def test_a_new_password_replaces_the_hash_and_signs_every_login_out(store: Store) -> None:
    user = await store.create_user(_name(), "old-hash")
    await store.add_refresh_token(f"t-{user.id}", user.id, FAR)
    assert await store.set_password(user.username, "new-hash") == user
    credentials = await store.get_credentials(user.username)
    assert credentials is not None and credentials.password_hash == "new-hash"
    rotation = await store.rotate_refresh_token(f"t-{user.id}", "next", FAR, 1_000)
    assert rotation.outcome is RefreshOutcome.REFUSED


async def test_changes_to_someone_who_does_not_exist_write_nothing(store: Store) -> None:
    other = await store.create_user(_name(), "h")
    await store.add_refresh_token(f"o-{other.id}", other.id, FAR)
    missing = _name()
    assert await store.set_password(missing, "x") is None
    assert await store.set_disabled(missing, True) is None
    assert not await store.is_disabled(10**12)
    rotation = await store.rotate_refresh_token(f"o-{other.id}", f"on-{other.id}", FAR, 1_000)
    assert rotation.outcome is RefreshOutcome.ROTATED
    assert rotation.user == User(other.id, other.username)
