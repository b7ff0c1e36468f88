"""The chat scenario's durability check: acked messages must be in the server's database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from baatcheet.loadtest.runner import _durability


def _database(path: Path, ids: list[int]) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO messages (id, body) VALUES (?, 'x')", [(i,) for i in ids])
    return path


def test_acked_messages_missing_from_the_database_are_counted_lost(tmp_path: Path) -> None:
    db = _database(tmp_path / "chat.db", [1, 2, 3, 5])

    verdict = _durability(db, [1, 2, 3, 4, 5, 6])

    assert verdict == {"checked": True, "acked": 6, "rows": 4, "lost": 2}


def test_without_a_database_nothing_is_claimed(tmp_path: Path) -> None:
    verdict = _durability(tmp_path / "absent.db", [1, 2])
    assert verdict["checked"] is False
    assert "lost" not in verdict
