"""SQLite, the embedded default: one file, WAL mode, created on first start.

SQLite allows one writer at a time. Rather than let several pooled connections fight over
the write lock (and fail with ``database is locked``), every write goes through an engine
whose pool holds exactly one connection; reads use a second small pool and, thanks to
WAL, never wait for the writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from baatcheet.errors import StoreError
from baatcheet.settings import SqliteSynchronous
from baatcheet.store.base import Appended, NewMessage
from baatcheet.store.migrate import upgrade
from baatcheet.store.schema import messages
from baatcheet.store.store_sql import SqlStore, now_ms, stored_message

__all__ = ["SqliteStore", "open_sqlite"]

log = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 5000
_CHECKPOINT_EVERY_S = 1.0

# The hot-path INSERT, compiled by SQLAlchemy once, executed as one plain executemany with
# positional tuples: per-row parameter processing would cost more CPU than SQLite itself.
_INSERT_MESSAGE = insert(messages).compile(
    dialect=sqlite.dialect(),
    column_keys=["room_id", "author_id", "body", "client_id", "created_at"],
)
_INSERT_MESSAGE_SQL = str(_INSERT_MESSAGE)
_INSERT_MESSAGE_ORDER = tuple(_INSERT_MESSAGE.positiontup or ())
_ROW_ORDER = ("room_id", "author_id", "body", "client_id", "created_at")


def _pragmas(synchronous: SqliteSynchronous) -> Callable[[Any, Any], None]:
    """The connection set-up every SQLite connection of the store runs."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL: readers do not block the writer. synchronous: FULL puts every commit on
        # disk before it returns (group commit pays the fsync once per batch); NORMAL
        # leaves that to checkpoints. foreign_keys: SQLite leaves them off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.value.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.close()

    return on_connect


def _engine(url: URL, on_connect: Callable[[Any, Any], None], **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", on_connect)
    return engine


class SqliteStore(SqlStore):
    """:class:`SqlStore` with a dedicated message-writer thread and secrets in files.

    Message batches (the hot path) bypass the async engine: each batch is one call into
    a single writer thread that owns its own ``sqlite3`` connection and runs
    ``BEGIN IMMEDIATE; executemany(INSERT); COMMIT`` there. Through SQLAlchemy's async
    layer the same batch costs a thread hop (and a greenlet switch) per statement, which
    at a few thousand small batches a second costs more CPU than SQLite itself. The
    INSERT text is still compiled by SQLAlchemy from the schema. Everything else, and
    any batch that meets an already stored ``(author, client_id)``, takes the ordinary
    SQLAlchemy path.
    """

    def __init__(
        self,
        write_engine: AsyncEngine,
        read_engine: AsyncEngine,
        group_commit_window_s: float,
        data_dir: Path | None,
        *,
        database_path: Path | None = None,
        on_connect: Callable[[Any, Any], None] | None = None,
        inline_commits: bool = False,
    ) -> None:
        super().__init__(write_engine, read_engine, group_commit_window_s)
        self._data_dir = data_dir
        self._batch_writer: _BatchWriter | None = (
            _BatchWriter(database_path, on_connect, inline=inline_commits)
            if database_path is not None
            else None
        )

    async def close(self) -> None:
        """Flush queued messages, stop the writer thread, dispose of the engines."""
        await super().close()
        if self._batch_writer is not None:
            await self._batch_writer.close()
            self._batch_writer = None

    async def _flush_messages(self, batch: Sequence[NewMessage]) -> list[Appended]:
        writer = self._batch_writer
        keys = {(new.author.id, new.client_id) for new in batch}
        if writer is None or len(keys) != len(batch):
            return await super()._flush_messages(batch)
        self._check_open()
        created_at = now_ms()
        rows = [(new.room_id, new.author.id, new.body, new.client_id, created_at) for new in batch]
        try:
            ids = await writer.insert(rows)
        except sqlite3.IntegrityError:
            # A retry of a stored message: the careful path looks the originals up.
            return await super()._flush_messages(batch)
        except sqlite3.Error as exc:
            raise StoreError(f"database unavailable: {exc.__class__.__name__}: {exc}") from exc
        return [
            Appended(stored_message(new, message_id, created_at), created=True)
            for new, message_id in zip(batch, ids, strict=True)
        ]

    async def _insert_messages(
        self, conn: AsyncConnection, batch: list[NewMessage], created_at: int
    ) -> list[int]:
        """Insert with one executemany, then derive the ids from ``max(id)``.

        Sound because this transaction holds SQLite's write lock from the first row to the
        commit and ``batch`` conflicts with nothing (the caller filtered duplicates), so
        SQLite gave the rows consecutive rowids ending at ``max(id)``.
        """
        rows = []
        for new in batch:
            values = {
                "room_id": new.room_id,
                "author_id": new.author.id,
                "body": new.body,
                "client_id": new.client_id,
                "created_at": created_at,
            }
            rows.append(tuple(values[name] for name in _INSERT_MESSAGE_ORDER))
        await conn.exec_driver_sql(_INSERT_MESSAGE_SQL, rows)
        last = int(await conn.scalar(select(func.max(messages.c.id))) or 0)
        return list(range(last - len(batch) + 1, last + 1))

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


class _BatchWriter:
    """One transaction per message batch, on the event loop's thread or a writer thread.

    With ``inline`` a batch runs on the event loop's thread: under ``synchronous=NORMAL``
    a WAL commit only copies pages to the OS cache (tens of microseconds), less than
    handing the batch to a thread and back costs. That connection never waits: if another
    writer holds SQLite's lock, the batch goes to the writer thread, which waits for it
    (``busy_timeout``); and it never checkpoints (a checkpoint fsyncs): the writer thread
    does, at most once per ``_CHECKPOINT_EVERY_S``, without blocking the commits. Without
    ``inline`` (``FULL``: an fsync per commit, which may take milliseconds) the writer
    thread runs every batch.
    """

    def __init__(
        self, path: Path, on_connect: Callable[[Any, Any], None] | None, *, inline: bool
    ) -> None:
        self._path = path
        self._on_connect = on_connect
        self._commits_on_loop = inline
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="baatcheet-sqlite-writer")
        self._inline_connection: sqlite3.Connection | None = None
        self._thread_connection: sqlite3.Connection | None = None
        self._checkpoint: asyncio.Future[None] | None = None
        self._checkpoint_due = 0.0
        self._insert_sql = _INSERT_MESSAGE_SQL
        if _INSERT_MESSAGE_ORDER != _ROW_ORDER:
            raise RuntimeError(f"messages INSERT expects {_INSERT_MESSAGE_ORDER}, not {_ROW_ORDER}")

    async def insert(self, rows: list[tuple[Any, ...]]) -> list[int]:
        """Insert ``rows`` in one committed transaction; return their ids in order."""
        loop = asyncio.get_running_loop()
        if not self._commits_on_loop:
            return await loop.run_in_executor(self._executor, self._insert_on_thread, rows)
        try:
            ids = _insert(self._inline_writer(), self._insert_sql, rows)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            return await loop.run_in_executor(self._executor, self._insert_on_thread, rows)
        if self._checkpoint is None and loop.time() >= self._checkpoint_due:
            self._checkpoint_due = loop.time() + _CHECKPOINT_EVERY_S
            self._checkpoint = loop.run_in_executor(self._executor, self._run_checkpoint)
            self._checkpoint.add_done_callback(self._checkpointed)
        return ids

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not done.cancelled() and (exc := done.exception()) is not None:
            log.warning("SQLite checkpoint failed (the WAL keeps growing until one works): %s", exc)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        if self._on_connect is not None:
            self._on_connect(connection, None)
        return connection

    def _inline_writer(self) -> sqlite3.Connection:
        if self._inline_connection is None:
            connection = self._connect()
            connection.execute("PRAGMA busy_timeout=0")
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._inline_connection = connection
        return self._inline_connection

    def _thread_writer(self) -> sqlite3.Connection:
        if self._thread_connection is None:
            self._thread_connection = self._connect()
        return self._thread_connection

    def _insert_on_thread(self, rows: list[tuple[Any, ...]]) -> list[int]:
        return _insert(self._thread_writer(), self._insert_sql, rows)

    def _run_checkpoint(self) -> None:
        self._thread_writer().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        for connection in (self._inline_connection, self._thread_connection):
            if connection is not None:
                connection.close()
        self._inline_connection = self._thread_connection = None


def _insert(connection: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert ``rows`` in one transaction; return their ids in order."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(sql, rows)
        # Sound because this transaction holds the write lock from the first row to the
        # commit: SQLite gave the rows consecutive rowids ending at max(id).
        (last,) = connection.execute("SELECT max(id) FROM messages").fetchone()
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return list(range(int(last) - len(rows) + 1, int(last) + 1))


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


async def open_sqlite(
    database_url: str,
    group_commit_window_s: float,
    synchronous: SqliteSynchronous = SqliteSynchronous.FULL,
) -> SqliteStore:
    """Open (creating if needed) the SQLite database and apply migrations.

    ``sqlite+aiosqlite:///relative/path.db`` is relative to the working directory; the
    parent directory is created. An in-memory URL gets one shared connection, so it is
    only good for tests.
    """
    url = make_url(database_url)
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        url = url.set(drivername="sqlite+aiosqlite")
    database = url.database or ""
    on_connect = _pragmas(synchronous)
    if database in ("", ":memory:"):
        engine = _engine(url, on_connect, poolclass=StaticPool)
        store = SqliteStore(engine, engine, group_commit_window_s, None)
    else:
        path = _prepare_directory(database)
        write = _engine(url, on_connect, pool_size=1, max_overflow=0)
        read = _engine(url, on_connect, pool_size=4, max_overflow=4)
        store = SqliteStore(
            write,
            read,
            group_commit_window_s,
            path.parent,
            database_path=path,
            on_connect=on_connect,
            inline_commits=synchronous is not SqliteSynchronous.FULL,
        )
    try:
        await upgrade(store._write)
    except Exception:
        await store.close()
        raise
    return store
