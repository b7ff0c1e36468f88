"""Apply the Alembic migrations on start, without an alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")


def _upgrade_sync(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (the newest by default); a no-op when there.

    Runs in one transaction where the database allows transactional DDL (PostgreSQL,
    SQLite), so a failed upgrade leaves the previous schema in place.
    """
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_sync, revision)
