"""Users an operator disabled (``baatcheet user disable``).

``users.disabled_at`` is when the account was disabled, or NULL while it is enabled; every
existing user stays enabled. A nullable column with no default is added in place on both
databases (on SQLite, rebuilding ``users`` under ``foreign_keys=ON`` would cascade-delete
every row that references it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__: list[str] = []

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``users.disabled_at``, NULL (enabled) for everyone."""
    op.add_column("users", sa.Column("disabled_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    """Drop the column (SQLite ≥ 3.35 drops a column in place): disabled users come back."""
    op.execute("ALTER TABLE users DROP COLUMN disabled_at")
