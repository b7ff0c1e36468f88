"""Receipt cursors: how far each member has received and read each room.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__: list[str] = []

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CURSORS = ("delivered_up_to", "read_up_to")


def upgrade() -> None:
    """Add both cursors to ``memberships``; 0 means nothing received or read yet."""
    for name in _CURSORS:
        op.add_column(
            "memberships",
            sa.Column(name, sa.BigInteger, nullable=False, server_default=sa.text("0")),
        )


def downgrade() -> None:
    """Drop the cursors (SQLite needs a table rebuild for that, hence the batch)."""
    with op.batch_alter_table("memberships") as batch:
        for name in _CURSORS:
            batch.drop_column(name)
