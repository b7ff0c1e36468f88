"""SQLite, the embedded default: one file, WAL mode, created on first start.

SQLite allows one writer at a time. Rather than let several pooled connections fight over
the write lock (and fail with ``database is locked``), every write goes through an engine
whose pool holds exactly one connection; reads use a second small pool and, thanks to
WAL, never wait for the writer.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from baatcheet.errors import StoreError
from baatcheet.store.migrate import upgrade
from baatcheet.store.store_sql import SqlStore

__all__ = ["SqliteStore", "open_sqlite"]

_BUSY_TIMEOUT_MS = 5000


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers do not block the writer. synchronous=FULL: a commit is on disk before
    # it returns, which is what "acknowledged after commit" promises; group commit pays
    # for the fsync once per batch. foreign_keys: SQLite leaves them off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.close()


def _engine(url: URL, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", _on_connect)
    return engine


class SqliteStore(SqlStore):
    """:class:`SqlStore` that keeps its instance secrets in files beside the database."""

    def __init__(
        self,
        write_engine: AsyncEngine,
        read_engine: AsyncEngine,
        group_commit_window_s: float,
        data_dir: Path | None,
    ) -> None:
        super().__init__(write_engine, read_engine, group_commit_window_s)
        self._data_dir = data_dir

    async def instance_secret(self, name: str) -> str:
        """Read ``<data dir>/<name>.secret``, creating it (mode 0600) on first use."""
        if self._data_dir is None:
            return await super().instance_secret(name)
        path = self._data_dir / f"{name}.secret"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        except OSError as exc:
            raise StoreError(f"cannot create secret file {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "w") as file:
            value = secrets.token_urlsafe(48)
            file.write(value)
        return value


def _prepare_directory(database: str) -> Path:
    path = Path(database).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the data directory {path.parent}: {exc.strerror};"
            " set BAATCHEET_DATABASE_URL to a writable location"
        ) from exc
    return path


async def open_sqlite(database_url: str, group_commit_window_s: float) -> SqliteStore:
    """Open (creating if needed) the SQLite database and apply migrations.

    ``sqlite+aiosqlite:///relative/path.db`` is relative to the working directory; the
    parent directory is created. An in-memory URL gets one shared connection, so it is
    only good for tests.
    """
    url = make_url(database_url)
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        url = url.set(drivername="sqlite+aiosqlite")
    database = url.database or ""
    if database in ("", ":memory:"):
        engine = _engine(url, poolclass=StaticPool)
        store = SqliteStore(engine, engine, group_commit_window_s, None)
    else:
        path = _prepare_directory(database)
        write = _engine(url, pool_size=1, max_overflow=0)
        read = _engine(url, pool_size=4, max_overflow=4)
        store = SqliteStore(write, read, group_commit_window_s, path.parent)
    try:
        await upgrade(store._write)
    except Exception:
        await store.close()
        raise
    return store
