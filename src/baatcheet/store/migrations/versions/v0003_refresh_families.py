"""Refresh-token families: rotation remembers its successor, and reuse revokes the family.

Each refresh token now belongs to a family (every token descended from one login). A
rotated token keeps its row, marked ``used_at`` with the hash of its successor in
``replaced_by``, so a replay can be told apart from an unknown token (RFC 9700 §4.14.2).

Data of the first release: every existing token becomes the first token of its own family,
named by its hash, unused. (A token rotated under the old code less than
``refresh_token_reuse_s`` before the upgrade is therefore unused once more; the old code
had cut its expiry to that window, so it dies within seconds anyway.)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__: list[str] = []

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FAMILY_FK = "fk_refresh_tokens_family_id_refresh_families"
_FAMILY_INDEX = "ix_refresh_tokens_family_id"


def upgrade() -> None:
    """Create the families, one per existing token, and link every token to its family."""
    op.create_table(
        "refresh_families",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", _ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    # created_at 0: the first release did not record when a token was issued.
    op.execute(
        "INSERT INTO refresh_families (id, user_id, created_at)"
        " SELECT token_hash, user_id, 0 FROM refresh_tokens"
    )
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("family_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("used_at", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("replaced_by", sa.String(64), nullable=True))
    op.execute("UPDATE refresh_tokens SET family_id = token_hash")
    # Only now that every row has its family can the column refuse NULL and reference it.
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.alter_column("family_id", existing_type=sa.String(64), nullable=False)
        batch.create_foreign_key(
            _FAMILY_FK, "refresh_families", ["family_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index(_FAMILY_INDEX, ["family_id"])


def downgrade() -> None:
    """Back to one independent row per token; used and revoked tokens are deleted.

    The first release cannot tell a rotated token from a live one, so keeping used tokens
    (or the tokens of a revoked family) would make them work again.
    """
    op.execute(
        "DELETE FROM refresh_tokens WHERE used_at IS NOT NULL OR family_id IN"
        " (SELECT id FROM refresh_families WHERE revoked_at IS NOT NULL)"
    )
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_index(_FAMILY_INDEX)
        batch.drop_constraint(_FAMILY_FK, type_="foreignkey")
        batch.drop_column("replaced_by")
        batch.drop_column("used_at")
        batch.drop_column("family_id")
    op.drop_table("refresh_families")
