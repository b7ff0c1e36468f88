"""Every store test runs against each back end: an SQLite file and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from baatcheet.settings import Settings
from baatcheet.store import Store, open_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An open, migrated store; PostgreSQL comes from the shared ``postgres_url`` fixture.

    The PostgreSQL database is shared by the session, so tests make unique names and
    never assume an empty database.
    """
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chat.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    opened = await open_store(Settings(database_url=url))
    try:
        yield opened
    finally:
        await opened.close()
