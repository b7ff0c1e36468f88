"""What the embedded SQLite back end does to the file system."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from baatcheet.settings import Settings
from baatcheet.store import NewMessage, RoomKind, open_store


async def test_first_start_creates_the_data_directory_and_a_wal_database(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "data" / "chat.db"
    store = await open_store(Settings(database_url=f"sqlite+aiosqlite:///{db}"))
    await store.close()
    assert db.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_messages_and_the_secret_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    store = await open_store(settings)
    user = await store.create_user("ada", "h")
    room = await store.create_room("r", RoomKind.PUBLIC, [user.id])
    appended = await store.append_message(NewMessage(room.id, user, "kept", "c1"))
    secret = await store.instance_secret("jwt")
    await store.close()

    reopened = await open_store(settings)
    try:
        assert await reopened.get_message(appended.message.id) == appended.message
        assert await reopened.instance_secret("jwt") == secret
    finally:
        await reopened.close()
    assert (tmp_path / "jwt.secret").stat().st_mode & 0o777 == 0o600
