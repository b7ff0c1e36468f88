"""The SQLite durability setting reaches every connection, the message writer's included."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from baatcheet.settings import Settings, SqliteSynchronous
from baatcheet.store import NewMessage, RoomKind, open_store

_PRAGMA_VALUE = {SqliteSynchronous.FULL: 2, SqliteSynchronous.NORMAL: 1}


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
        assert writer is not None and writer._connection is not None
        (value,) = writer._connection.execute("PRAGMA synchronous").fetchone()
        assert value == _PRAGMA_VALUE[mode]
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, body FROM messages").fetchall()
    assert rows == [(appended.message.id, "namaste")]
