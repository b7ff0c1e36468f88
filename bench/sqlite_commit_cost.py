"""What one SQLite commit of the chat's message batch costs the server's CPU, by durability mode.

The chat benchmark's messages per server CPU-second hide where the time goes; this drives
the store's own batch insert (the statements, pragmas and schema the server uses) in one
process, with no network, and reads the process's user and system CPU time
(``getrusage``) per message: for ``synchronous=NORMAL`` (a commit copies pages to the
OS cache) and ``FULL`` (each commit also waits for ``fdatasync``), one message per commit
and a few per commit, as group commit makes them. The difference between the modes is
the kernel's work of the sync itself, which no amount of Python tuning removes; batching
is what shares it out.

Run: ``uv run python bench/sqlite_commit_cost.py [messages] [rounds]``.
"""

from __future__ import annotations

import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert

from baatcheet.settings import SqliteSynchronous
from baatcheet.store.schema import messages, metadata, rooms, users
from baatcheet.store.store_sqlite import _INSERT_MESSAGE_SQL, _insert, _pragmas

_BATCH_SIZES = (1, 5, 20)
_SEED_MESSAGES = 20_000
"""Rows already in the table, so each insert walks indexes of a realistic depth."""


def _create(path: Path) -> tuple[int, int]:
    """A database with the store's schema, one user, one room, and some history."""
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    now = int(time.time() * 1000)
    with engine.begin() as conn:
        user_id = conn.execute(
            insert(users)
            .values(username="bench", password_hash="x", created_at=now)
            .returning(users.c.id)
        ).scalar_one()
        room_id = conn.execute(
            insert(rooms)
            .values(name="bench", kind="public", created_at=now, name_key="bench")
            .returning(rooms.c.id)
        ).scalar_one()
        conn.execute(
            insert(messages),
            [
                {
                    "room_id": room_id,
                    "author_id": user_id,
                    "body": "seed",
                    "client_id": f"seed-{i}",
                    "created_at": now,
                }
                for i in range(_SEED_MESSAGES)
            ],
        )
    engine.dispose()
    return int(user_id), int(room_id)


def _cpu_seconds() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _measure(
    path: Path, mode: SqliteSynchronous, batch: int, count: int, ids: tuple[int, int]
) -> tuple[float, float]:
    """User and system CPU microseconds per message, ``count`` messages ``batch`` a commit."""
    user_id, room_id = ids
    connection = sqlite3.connect(path, isolation_level=None)
    _pragmas(mode)(connection, None)
    connection.execute("PRAGMA wal_autocheckpoint=0")  # the server checkpoints apart
    body = "a chat message of a typical length, about sixty characters long"

    created_at = int(time.time() * 1000)
    # Built before the clock starts: the client makes the ids, not the server.
    batches = [
        [(room_id, user_id, body, uuid.uuid4().hex, created_at) for _ in range(batch)]
        for _ in range(count // batch)
    ]
    user0, system0 = _cpu_seconds()
    for rows in batches:
        _insert(connection, _INSERT_MESSAGE_SQL, rows)
    user1, system1 = _cpu_seconds()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    sent = count // batch * batch
    return (user1 - user0) / sent * 1e6, (system1 - system0) / sent * 1e6


def main(argv: list[str]) -> None:
    """Print the per-message CPU of every mode and batch size (medians of the rounds)."""
    count = int(argv[0]) if argv else 2_000
    rounds = int(argv[1]) if len(argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="baatcheet-commit-cost-") as folder:
        path = Path(folder) / "chat.db"
        ids = _create(path)
        print(f"{count} messages per round, {rounds} rounds, median CPU per message (µs)")
        print(f"{'mode':<8}{'per commit':>11}{'user':>9}{'system':>9}{'total':>9}")
        for mode in (SqliteSynchronous.NORMAL, SqliteSynchronous.FULL):
            for batch in _BATCH_SIZES:
                runs = [_measure(path, mode, batch, count, ids) for _ in range(rounds)]
                user = statistics.median(run[0] for run in runs)
                system = statistics.median(run[1] for run in runs)
                print(f"{mode.value:<8}{batch:>11}{user:>9.1f}{system:>9.1f}{user + system:>9.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
