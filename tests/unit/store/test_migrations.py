"""Migrations: old databases upgrade in place, and the result is the schema the code uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from baatcheet.settings import Settings
from baatcheet.store import ReceiptCursors, ReceiptOutcome, open_store
from baatcheet.store.migrate import upgrade
from baatcheet.store.schema import metadata


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
