"""Migrations: old databases upgrade in place, and the result is the schema the code uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from baatcheet.errors import StoreError
from baatcheet.settings import Settings
from baatcheet.store import (
    ReceiptCursors,
    ReceiptOutcome,
    RefreshOutcome,
    RefreshRotation,
    User,
    migrate,
    open_store,
    schema_status,
)
from baatcheet.store.migrate import upgrade
from baatcheet.store.schema import metadata

MIGRATIONS = Path(migrate.__file__).with_name("migrations")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_the_migrated_database_matches_the_declared_schema(database_url: str) -> None:
    store = await open_store(Settings(database_url=database_url))
    await store.close()
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_a_first_release_database_upgrades_and_keeps_its_rooms_and_messages(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = create_async_engine(url)
    await upgrade(engine, "0001")
    async with engine.begin() as connection:
        for statement in (
            "INSERT INTO users VALUES (1, 'alice', 'h', 0), (2, 'bob', 'h', 0)",
            "INSERT INTO rooms VALUES (1, 'r', 'private', NULL, 0)",
            "INSERT INTO memberships VALUES (1, 1, 0), (1, 2, 0)",
            "INSERT INTO messages VALUES (7, 1, 1, 'from before the upgrade', 'c1', 0)",
        ):
            await connection.execute(text(statement))
    await engine.dispose()

    store = await open_store(Settings(database_url=url))
    try:
        page = await store.history(1, None, 10)
        assert [message.body for message in page.messages] == ["from before the upgrade"]
        assert await store.receipt_cursors(1, 1) == ReceiptCursors(0, 0)
        assert await store.advance_receipt(1, 2, 7, read=True) is ReceiptOutcome.MOVED
        assert await store.receipt_cursors(1, 1) == ReceiptCursors(7, 7)
    finally:
        await store.close()


async def test_a_first_release_refresh_token_becomes_a_family_of_its_own(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = create_async_engine(url)
    await upgrade(engine, "0002")
    async with engine.begin() as connection:
        for statement in (
            "INSERT INTO users VALUES (1, 'alice', 'h', 0)",
            "INSERT INTO refresh_tokens VALUES ('mine', 1, 9000000000000)",
            "INSERT INTO refresh_tokens VALUES ('also-mine', 1, 9000000000000)",
        ):
            await connection.execute(text(statement))
    await engine.dispose()

    store = await open_store(Settings(database_url=url))
    try:
        alice = User(1, "alice")
        assert await store.rotate_refresh_token("mine", "next", 9_100_000_000_000, 1_000, 500) == (
            RefreshRotation(RefreshOutcome.ROTATED, alice)
        )
        replay = await store.rotate_refresh_token("mine", "next", 9_100_000_000_000, 2_000, 500)
        assert replay.outcome is RefreshOutcome.REUSED
        assert (
            await store.rotate_refresh_token("next", "x", 9_100_000_000_000, 2_000)
        ).outcome is (RefreshOutcome.REFUSED)
        # The other token was a family of its own, so the revocation spared it.
        other = await store.rotate_refresh_token("also-mine", "y", 9_100_000_000_000, 2_000)
        assert other.outcome is RefreshOutcome.ROTATED
    finally:
        await store.close()


async def test_a_downgrade_to_the_first_release_keeps_only_live_refresh_tokens(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    store = await open_store(Settings(database_url=url))
    try:
        user = await store.create_user("alice", "h")
        for token in ("spent", "revoked"):
            await store.add_refresh_token(token, user.id, 9_000_000_000_000)
        await store.rotate_refresh_token("spent", "live", 9_000_000_000_000, 1_000)
        await store.rotate_refresh_token("revoked", "revoked-next", 9_000_000_000_000, 1_000)
        await store.rotate_refresh_token("revoked", "revoked-next", 9_000_000_000_000, 2_000)
    finally:
        await store.close()

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, "0002")
            rows = await connection.execute(text("SELECT token_hash FROM refresh_tokens"))
            assert [row.token_hash for row in rows] == ["live"]
    finally:
        await engine.dispose()


def _downgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_rooms_from_before_0004_are_listed_and_searched_by_their_folded_name(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    engine = create_async_engine(url)
    await upgrade(engine, "0003")
    async with engine.begin() as connection:
        for statement in (
            "INSERT INTO users VALUES (1, 'alice', 'h', 0)",
            "INSERT INTO rooms VALUES (1, 'Zebra', 'public', NULL, 0),"
            " (2, 'ÉCOLE', 'public', NULL, 0), (3, 'apple', 'public', NULL, 0),"
            " (4, 'Secret', 'private', NULL, 0)",
            "INSERT INTO memberships (room_id, user_id, joined_at) VALUES (4, 1, 0)",
        ):
            await connection.execute(text(statement))
    await engine.dispose()

    store = await open_store(Settings(database_url=url))
    try:
        listed = await store.public_rooms("", None, 10)
        assert [room.name for room in listed.rooms] == ["apple", "Zebra", "ÉCOLE"]
        assert [room.id for room in (await store.public_rooms("éco", None, 10)).rooms] == [2]
        assert [room.name for room in (await store.joined_rooms(1, "sec", None, 10)).rooms] == [
            "Secret"
        ]
    finally:
        await store.close()

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, "0003")
            rows = await connection.execute(text("SELECT name FROM rooms ORDER BY id"))
            assert [row.name for row in rows] == ["Zebra", "ÉCOLE", "apple", "Secret"]
    finally:
        await engine.dispose()


async def test_users_from_before_0005_are_enabled_and_a_downgrade_keeps_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    engine = create_async_engine(url)
    await upgrade(engine, "0004")
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO users VALUES (1, 'alice', 'h', 0)"))
    await engine.dispose()

    store = await open_store(Settings(database_url=url))
    try:
        credentials = await store.get_credentials("alice")
        assert credentials is not None and not credentials.disabled
        await store.set_disabled("alice", True)
    finally:
        await store.close()

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, "0004")
            rows = await connection.execute(text("SELECT username FROM users"))
            assert [row.username for row in rows] == ["alice"]
    finally:
        await engine.dispose()


async def test_the_schema_status_reads_without_creating_or_changing_anything(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data" / "chat.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}")
    missing = await schema_status(settings)
    assert (missing.exists, missing.current, missing.head) == (False, None, "0005")
    assert not path.parent.exists()

    path.parent.mkdir()
    engine = create_async_engine(settings.database_url)
    await upgrade(engine, "0003")
    await engine.dispose()
    behind = await schema_status(settings)
    assert (behind.exists, behind.current, behind.known, behind.up_to_date) == (
        True,
        "0003",
        True,
        False,
    )
    assert (await schema_status(settings)).current == "0003"


async def test_a_database_migrated_by_a_newer_release_is_refused_with_a_reason(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    engine = create_async_engine(url)
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        status = await schema_status(Settings(database_url=url))
        assert (status.current, status.known) == ("9999", False)
        with pytest.raises(StoreError, match="revision 9999, which this release"):
            await upgrade(engine)
    finally:
        await engine.dispose()
