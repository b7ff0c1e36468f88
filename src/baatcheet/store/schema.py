"""The tables, declared once for queries; migrations in ``migrations/versions`` create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

__all__ = [
    "ID",
    "NAME_KEY",
    "memberships",
    "messages",
    "meta",
    "metadata",
    "refresh_families",
    "refresh_tokens",
    "rooms",
    "user_blocks",
    "users",
]

ID = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids; on SQLite an INTEGER PRIMARY KEY so the id is the rowid."""

NAME_KEY = String(300).with_variant(String(300, collation="C"), "postgresql")
"""A case-folded room name (folding can triple its length). Compared code point by code
point on both databases (SQLite's default, PostgreSQL's "C" collation), so a prefix is one
contiguous index range whatever the server's locale."""

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # When an operator disabled the account (baatcheet user disable); NULL while enabled.
    Column("disabled_at", BigInteger, nullable=True),
)

rooms = Table(
    "rooms",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("direct_key", String(50), nullable=True, unique=True),
    Column("created_at", BigInteger, nullable=False),
    # The name case-folded, the order of every room listing and what a search matches by
    # prefix; set on insert ('' only while migration 0004 fills it in).
    Column("name_key", NAME_KEY, nullable=False, server_default=text("''")),
    Index("ix_rooms_kind_name_key_id", "kind", "name_key", "id"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("joined_at", BigInteger, nullable=False),
    # Receipt cursors: the newest message id this member has received / read in the room
    # (a receipt covers every earlier message too); 0 before the first receipt.
    Column("delivered_up_to", BigInteger, nullable=False, server_default=text("0")),
    Column("read_up_to", BigInteger, nullable=False, server_default=text("0")),
    Index("ix_memberships_user_id", "user_id"),
)

# One row per (blocker, blocked): the blocked user cannot open a direct room with the
# blocker, add them to a room, or write in their direct room. Looked up both ways: by
# primary key from the blocker, by the index from the blocked user.
user_blocks = Table(
    "user_blocks",
    metadata,
    Column("blocker_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("blocked_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_user_blocks_blocked_id", "blocked_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("body", Text, nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("author_id", "client_id", name="uq_messages_author_client"),
    Index("ix_messages_room_id_id", "room_id", "id"),
)

# A family is every refresh token descended from one login; it is named by the hash of the
# token that login issued, and revoking it (revoked_at) kills all of them at once.
refresh_families = Table(
    "refresh_families",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column(
        "family_id",
        String(64),
        ForeignKey(
            "refresh_families.id",
            ondelete="CASCADE",
            name="fk_refresh_tokens_family_id_refresh_families",
        ),
        nullable=False,
    ),
    # Set together when the token is rotated: when, and the hash of the token it became.
    Column("used_at", BigInteger, nullable=True),
    Column("replaced_by", String(64), nullable=True),
    Index("ix_refresh_tokens_family_id", "family_id"),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
