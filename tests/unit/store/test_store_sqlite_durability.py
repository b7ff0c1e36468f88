"""The SQLite durability setting reaches every connection, the message writer's included.

In ``normal`` mode the message writer commits on the event loop's thread; it must never
make the loop wait for another writer's lock, and the WAL must still be checkpointed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from baatcheet.settings import Settings, SqliteSynchronous
from baatcheet.store import NewMessage, Room, RoomKind, Store, User, open_store

_PRAGMA_VALUE = {SqliteSynchronous.FULL: 2, SqliteSynchronous.NORMAL: 1}


@dataclass
class Lobby:
    """A store in ``normal`` mode with one user in one room."""

    db: Path
    store: Store
    user: User
    room: Room

    async def send(self, body: str, client_id: str) -> None:
        await self.store.append_message(NewMessage(self.room.id, self.user, body, client_id))


@pytest.fixture
async def lobby(tmp_path: Path) -> AsyncIterator[Lobby]:
    db = tmp_path / "chat.db"
    store = await open_store(
        Settings(database_url=f"sqlite+aiosqlite:///{db}", sqlite_synchronous="normal")
    )
    try:
        user = await store.create_user("asha", "hash")
        room = await store.create_room("lobby", RoomKind.PUBLIC, [user.id])
        yield Lobby(db, store, user, room)
    finally:
        await store.close()


@pytest.mark.parametrize("mode", list(SqliteSynchronous))
async def test_the_chosen_synchronous_mode_applies_and_messages_still_commit(
    tmp_path: Path, mode: SqliteSynchronous
) -> None:
    db = tmp_path / "chat.db"
    store = await open_store(
        Settings(database_url=f"sqlite+aiosqlite:///{db}", sqlite_synchronous=mode)
    )
    try:
        user = await store.create_user("asha", "hash")
        room = await store.create_room("lobby", RoomKind.PUBLIC, [user.id])
        appended = await store.append_message(NewMessage(room.id, user, "namaste", "c-1"))
        writer = store._batch_writer  # type: ignore[attr-defined]
        assert writer is not None
        connection = writer._inline_connection or writer._thread_connection
        (value,) = connection.execute("PRAGMA synchronous").fetchone()
        assert value == _PRAGMA_VALUE[mode]
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, body FROM messages").fetchall()
    assert rows == [(appended.message.id, "namaste")]


async def _max_loop_gap(during: asyncio.Future[Any]) -> float:
    """The longest the event loop went without running a 1 ms ticker while ``during`` ran."""
    longest, last = 0.0, time.monotonic()
    while not during.done():
        await asyncio.sleep(0.001)
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    return longest


async def test_in_normal_mode_a_message_waits_for_a_busy_database_without_blocking_the_loop(
    lobby: Lobby,
) -> None:
    await lobby.send("first", "c-1")
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:  # another writer (a migration, a backup tool)
        with sqlite3.connect(lobby.db, isolation_level=None) as other:
            other.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(5)
            other.execute("COMMIT")

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert locked.wait(5)
    append = asyncio.ensure_future(lobby.send("second", "c-2"))
    asyncio.get_running_loop().call_later(0.4, release.set)
    gap = await _max_loop_gap(append)
    holder.join()
    await append
    assert gap < 0.2, f"the event loop stalled for {gap:.3f} s behind another writer"
    with sqlite3.connect(lobby.db) as conn:
        bodies = [row[0] for row in conn.execute("SELECT body FROM messages ORDER BY id")]
    assert bodies == ["first", "second"]


async def test_in_normal_mode_the_wal_is_checkpointed_while_messages_flow(
    lobby: Lobby, tmp_path: Path
) -> None:
    """Without checkpoints the main database file would hold none of the messages (they
    would all sit in an ever-growing WAL)."""
    deadline = time.monotonic() + 2.5
    sent = 0
    while time.monotonic() < deadline and sent < 50_000:
        await lobby.send("namaste", f"c-{sent}")
        sent += 1
    writer = lobby.store._batch_writer  # type: ignore[attr-defined]
    while writer._checkpoint is not None:  # noqa: ASYNC110 - the writer thread's work
        await asyncio.sleep(0.01)
    main_file_only = tmp_path / "copy.db"
    main_file_only.write_bytes(lobby.db.read_bytes())
    with sqlite3.connect(main_file_only) as conn:
        (in_main_file,) = conn.execute("SELECT count(*) FROM messages").fetchone()
    assert sent > 100
    assert in_main_file > sent // 4, (in_main_file, sent)
