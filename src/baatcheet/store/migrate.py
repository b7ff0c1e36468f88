"""Apply the Alembic migrations on start, without an alembic.ini; say where a schema stands."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from baatcheet.errors import StoreError

__all__ = ["current_revision", "head_revision", "known_revisions", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    """The newest schema revision this release knows (what :func:`upgrade` goes to)."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError(f"no migrations found in {_SCRIPTS}")
    return head


def known_revisions() -> frozenset[str]:
    """Every schema revision this release has a migration for."""
    script = ScriptDirectory.from_config(_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def _current_sync(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database's schema is at; ``None`` for a database without one.

    Reads only (Alembic's ``alembic_version`` table), so it is safe on a live database.
    Database failures propagate as SQLAlchemy raises them.
    """
    async with engine.connect() as connection:
        return await connection.run_sync(_current_sync)


def _upgrade_sync(connection: Connection, revision: str) -> None:
    current = _current_sync(connection)
    if current is not None and current not in known_revisions():
        raise StoreError(
            f"the database schema is at revision {current}, which this release of Baatcheet"
            f" does not know (its newest is {head_revision()}): a newer release migrated it."
            " Run that release, or restore a backup taken before the upgrade"
        )
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (the newest by default); a no-op when there.

    Runs in one transaction where the database allows transactional DDL (PostgreSQL,
    SQLite), so a failed upgrade leaves the previous schema in place.

    Raises:
        StoreError: the database cannot be reached, is at a revision this release does
            not know, or refused a migration (the message carries the database's error).
    """
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_sync, revision)
    except (CommandError, SQLAlchemyError) as exc:
        raise StoreError(f"cannot migrate the database: {exc}") from exc
