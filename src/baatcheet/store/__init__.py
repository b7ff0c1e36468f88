"""Persistence: the :class:`Store` port and the SQLite / PostgreSQL back ends."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
    "Store",
    "User",
    "open_store",
]


async def open_store(settings: Settings) -> Store:
    """Open the database named by ``settings.database_url``, migrated to the newest schema.

    Raises:
        ConfigurationError: the URL is malformed or names an unsupported database.
        StoreError: the database cannot be reached or created.
    """
    try:
        backend = make_url(settings.database_url).get_backend_name()
    except ArgumentError as exc:
        raise ConfigurationError(
            f"database_url {settings.database_url!r} is not a database URL: {exc}"
        ) from exc
    window_s = settings.group_commit_window_ms / 1000
    try:
        if backend == "sqlite":
            return await open_sqlite(settings.database_url, window_s, settings.sqlite_synchronous)
        if backend == "postgresql":
            return await open_postgres(settings.database_url, window_s)
    except (OSError, TimeoutError) as exc:
        raise StoreError(f"cannot reach the database at {settings.database_url}: {exc}") from exc
    raise ConfigurationError(
        f"database_url {settings.database_url!r}: only sqlite and postgresql are supported"
    )
