"""Persistence: the :class:`Store` port and the SQLite / PostgreSQL back ends."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from baatcheet.errors import ConfigurationError, StoreError
from baatcheet.settings import Settings
from baatcheet.store.base import (
    Appended,
    Credentials,
    HistoryPage,
    Message,
    NewMessage,
    ReceiptCursors,
    ReceiptOutcome,
    RefreshOutcome,
    RefreshRotation,
    Room,
    RoomKey,
    RoomKind,
    RoomPage,
    Store,
    User,
)
from baatcheet.store.migrate import current_revision, head_revision, known_revisions
from baatcheet.store.store_postgres import open_postgres
from baatcheet.store.store_sqlite import open_sqlite

__all__ = [
    "Appended",
    "Credentials",
    "HistoryPage",
    "Message",
    "NewMessage",
    "ReceiptCursors",
    "ReceiptOutcome",
    "RefreshOutcome",
    "RefreshRotation",
    "Room",
    "RoomKey",
    "RoomKind",
    "RoomPage",
    "SchemaStatus",
    "Store",
    "User",
    "open_store",
    "schema_status",
    "shown_url",
]

_STATUS_TIMEOUT_S = 5


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema stands against this release's migrations."""

    current: str | None
    """The database's revision; ``None`` when it has none yet (a new or empty database)."""
    head: str
    """The newest revision this release knows."""
    exists: bool = True
    """False for a SQLite file that is not there yet (the server creates it on start)."""
    known: bool = True
    """False when ``current`` is a revision this release has no migration for: a newer
    release migrated the database, and this one must not run on it."""

    @property
    def up_to_date(self) -> bool:
        """True when the database is at the newest revision."""
        return self.current == self.head


def _parse_url(database_url: str) -> URL:
    try:
        return make_url(database_url)
    except ArgumentError as exc:
        raise ConfigurationError(f"database_url is not a database URL: {exc}") from exc


def _is_file(database: str) -> bool:
    return Path(database).expanduser().is_file()


def shown_url(database_url: str) -> str:
    """``database_url`` fit for a message or a log line: its password hidden."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unparsable URL)"


async def open_store(settings: Settings) -> Store:
    """Open the database named by ``settings.database_url``, migrated to the newest schema.

    Raises:
        ConfigurationError: the URL is malformed or names an unsupported database.
        StoreError: the database cannot be reached or created.
    """
    backend = _parse_url(settings.database_url).get_backend_name()
    window_s = settings.group_commit_window_ms / 1000
    try:
        if backend == "sqlite":
            return await open_sqlite(settings.database_url, window_s, settings.sqlite_synchronous)
        if backend == "postgresql":
            return await open_postgres(settings.database_url, window_s)
    except (OSError, TimeoutError) as exc:
        raise StoreError(
            f"cannot reach the database at {shown_url(settings.database_url)}: {exc}"
        ) from exc
    raise ConfigurationError(
        f"database_url {shown_url(settings.database_url)}: only sqlite and postgresql are supported"
    )


async def schema_status(settings: Settings) -> SchemaStatus:
    """Reach the database (``SELECT 1``) and read its schema revision, changing nothing.

    A SQLite file that does not exist is reported as such, not created.

    Raises:
        ConfigurationError: the URL is malformed or names an unsupported database.
        StoreError: the database cannot be reached or answered with an error.
    """
    url = _parse_url(settings.database_url)
    backend = url.get_backend_name()
    head = head_revision()
    connect_args: dict[str, object] = {}
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or not await asyncio.to_thread(_is_file, database):
            return SchemaStatus(None, head, exists=False)
        url = url.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
        connect_args = {"timeout": _STATUS_TIMEOUT_S}
    else:
        raise ConfigurationError(
            f"database_url {shown_url(settings.database_url)}: only sqlite and postgresql are"
            " supported"
        )
    engine = create_async_engine(url, connect_args=connect_args)
    try:
        async with engine.connect() as connection:
            await connection.execute(select(1))
        current = await current_revision(engine)
        return SchemaStatus(current, head, known=current is None or current in known_revisions())
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise StoreError(
            f"cannot reach the database at {shown_url(settings.database_url)}: {exc}"
        ) from exc
    finally:
        await engine.dispose()
