"""User blocks, and a case-folded room name to page and search room listings by.

``user_blocks`` holds one row per (blocker, blocked) pair. ``rooms.name_key`` is the
room's name case-folded (Python's ``str.casefold``, frozen here as it was at this
revision); listings walk the index on (kind, name_key, id), so a page of public rooms
costs the same with fifty rooms or five million, and a name search is a prefix range of
that index. Existing rooms get their key here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__: list[str] = []

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NAME_KEY = sa.String(300).with_variant(sa.String(300, collation="C"), "postgresql")
_ROOMS_INDEX = "ix_rooms_kind_name_key_id"
_BLOCKED_INDEX = "ix_user_blocks_blocked_id"
_BACKFILL_BATCH = 1000


def upgrade() -> None:
    """Add and fill ``rooms.name_key`` with its index; create ``user_blocks``."""
    # NOT NULL needs a default on SQLite, which cannot add such a column otherwise
    # without rebuilding the table (and a rebuild of a parent table under
    # foreign_keys=ON would cascade-delete its children).
    op.add_column(
        "rooms", sa.Column("name_key", _NAME_KEY, nullable=False, server_default=sa.text("''"))
    )
    _fill_name_keys()
    op.create_index(_ROOMS_INDEX, "rooms", ["kind", "name_key", "id"])
    op.create_table(
        "user_blocks",
        sa.Column(
            "blocker_id", _ID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "blocked_id", _ID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index(_BLOCKED_INDEX, "user_blocks", ["blocked_id"])


def _fill_name_keys() -> None:
    """Key every existing room, a batch of ids at a time (bounded memory)."""
    rooms = sa.table("rooms", sa.column("id", _ID), sa.column("name"), sa.column("name_key"))
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(rooms.c.id, rooms.c.name)
            .where(rooms.c.id > last)
            .order_by(rooms.c.id)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            sa.update(rooms)
            .where(rooms.c.id == sa.bindparam("room_id"))
            .values(name_key=sa.bindparam("key")),
            [{"room_id": row.id, "key": row.name.casefold()} for row in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    """Drop the blocks and the name key (SQLite ≥ 3.35 drops a column in place)."""
    op.drop_index(_BLOCKED_INDEX, table_name="user_blocks")
    op.drop_table("user_blocks")
    op.drop_index(_ROOMS_INDEX, table_name="rooms")
    op.execute("ALTER TABLE rooms DROP COLUMN name_key")
