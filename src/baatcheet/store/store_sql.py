"""The store, written once in SQLAlchemy Core for every SQL back end.

Engine-specific setup (SQLite pragmas and its single writer, the PostgreSQL pool) lives in
``store_sqlite.py`` and ``store_postgres.py``; they build the engines and hand them here.
Reads and writes may use different engines: SQLite readers must not queue behind its one
writer connection, while PostgreSQL uses one pool for both.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from baatcheet.errors import ConflictError, StoreError
from baatcheet.store.base import (
    Appended,
    Credentials,
    HistoryPage,
    Message,
    NewMessage,
    ReceiptCursors,
    ReceiptOutcome,
    RefreshOutcome,
    RefreshRotation,
    Room,
    RoomKey,
    RoomKind,
    RoomPage,
    User,
)
from baatcheet.store.group_commit import CommitObserver, GroupCommitter
from baatcheet.store.room_listing import joined_page, name_key, public_page
from baatcheet.store.schema import (
    memberships,
    messages,
    meta,
    refresh_families,
    refresh_tokens,
    rooms,
    user_blocks,
    users,
)

__all__ = [
    "SqlStore",
    "now_ms",
    "stored_message",
]

_MessageKey = tuple[int, str]
_MemberKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _ReceiptUpdate:
    room_id: int
    user_id: int
    message_id: int
    read: bool


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the unit of every stored timestamp."""
    return time.time_ns() // 1_000_000


def stored_message(new: NewMessage, message_id: int, created_at: int) -> Message:
    """The :class:`Message` that inserting ``new`` as ``message_id`` produced."""
    return Message(
        id=int(message_id),
        room_id=new.room_id,
        author=new.author,
        body=new.body,
        client_id=new.client_id,
        created_at_ms=created_at,
    )


def _key(new: NewMessage) -> _MessageKey:
    return (new.author.id, new.client_id)


def _message(row: Row[*tuple[Any, ...]]) -> Message:
    return Message(
        id=row.id,
        room_id=row.room_id,
        author=User(row.author_id, row.username),
        body=row.body,
        client_id=row.client_id,
        created_at_ms=row.created_at,
    )


_MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.room_id,
    messages.c.author_id,
    users.c.username,
    messages.c.body,
    messages.c.client_id,
    messages.c.created_at,
)


class SqlStore:
    """:class:`~baatcheet.store.base.Store` over SQLAlchemy async engines.

    Args:
        write_engine: engine for every write; for SQLite a pool of exactly one connection.
        read_engine: engine for reads; may be ``write_engine``.
        group_commit_window_s: how long the message writer waits to fill a batch.
    """

    def __init__(
        self, write_engine: AsyncEngine, read_engine: AsyncEngine, group_commit_window_s: float
    ) -> None:
        self._write = write_engine
        self._read = read_engine
        self._committer: GroupCommitter[NewMessage, Appended] = GroupCommitter(
            self._flush_messages, window_s=group_commit_window_s, name="messages"
        )
        self._receipts: GroupCommitter[_ReceiptUpdate, ReceiptOutcome] = GroupCommitter(
            self._flush_receipts, window_s=group_commit_window_s, name="receipts"
        )
        self._closing = False
        self._closed = False

    async def close(self) -> None:
        """Flush queued messages and receipts, then dispose of both engines."""
        if self._closing:
            return
        self._closing = True
        await self._committer.close()
        await self._receipts.close()
        self._closed = True
        await self._write.dispose()
        if self._read is not self._write:
            await self._read.dispose()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed; the server is shutting down")

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction; database failures become ``StoreError``."""
        self._check_open()
        try:
            async with self._write.begin() as conn:
                yield conn
        except IntegrityError:
            raise
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StoreError(f"database unavailable: {exc.__class__.__name__}: {exc}") from exc

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        self._check_open()
        try:
            async with self._read.connect() as conn:
                yield conn
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StoreError(f"database unavailable: {exc.__class__.__name__}: {exc}") from exc

    def observe_commits(self, observer: CommitObserver) -> None:
        """Report every message and receipt batch to ``observer``."""
        self._committer.observer = observer
        self._receipts.observer = observer

    async def ping(self) -> None:
        """Run ``SELECT 1`` on the read engine."""
        async with self._reading() as conn:
            await conn.execute(select(1))

    async def instance_secret(self, name: str) -> str:
        """Keep the secret in the ``meta`` table; the first writer wins a race."""
        key = f"secret:{name}"
        async with self._reading() as conn:
            value = await conn.scalar(select(meta.c.value).where(meta.c.key == key))
        if value is not None:
            return str(value)
        try:
            async with self._writing() as conn:
                await conn.execute(insert(meta).values(key=key, value=secrets.token_urlsafe(48)))
        except IntegrityError:
            pass  # another node created it first; read theirs
        async with self._reading() as conn:
            return str(await conn.scalar(select(meta.c.value).where(meta.c.key == key)))

    # Users -----------------------------------------------------------------------------

    async def create_user(self, username: str, password_hash: str) -> User:
        """Insert; the unique index on ``username`` turns a race into ``ConflictError``."""
        try:
            async with self._writing() as conn:
                user_id = await conn.scalar(
                    insert(users)
                    .values(username=username, password_hash=password_hash, created_at=now_ms())
                    .returning(users.c.id)
                )
        except IntegrityError as exc:
            raise ConflictError(f"username {username!r} is taken; choose another") from exc
        return User(int(user_id), username)

    async def get_credentials(self, username: str) -> Credentials | None:
        """Look the user up by exact username."""
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    select(
                        users.c.id, users.c.username, users.c.password_hash, users.c.disabled_at
                    ).where(users.c.username == username)
                )
            ).first()
        if row is None:
            return None
        return Credentials(
            User(row.id, row.username), row.password_hash, disabled=row.disabled_at is not None
        )

    async def get_user(self, user_id: int) -> User | None:
        """Look the user up by id."""
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    select(users.c.id, users.c.username).where(users.c.id == user_id)
                )
            ).first()
        return None if row is None else User(row.id, row.username)

    async def is_disabled(self, user_id: int) -> bool:
        """One primary-key read of ``users.disabled_at``."""
        async with self._reading() as conn:
            row = (
                await conn.execute(select(users.c.disabled_at).where(users.c.id == user_id))
            ).first()
        return row is not None and row.disabled_at is not None

    async def set_password(self, username: str, password_hash: str) -> User | None:
        """Update the hash, then revoke the user's live families, in one transaction."""
        async with self._writing() as conn:
            row = (
                await conn.execute(
                    update(users)
                    .where(users.c.username == username)
                    .values(password_hash=password_hash)
                    .returning(users.c.id, users.c.username)
                )
            ).first()
            if row is None:
                return None
            await self._revoke_families(conn, row.id)
        return User(row.id, row.username)

    async def set_disabled(self, username: str, disabled: bool) -> User | None:
        """Set or clear ``disabled_at`` (keeping an earlier one); revoke on disabling."""
        stamp = (
            func.coalesce(users.c.disabled_at, literal(now_ms(), BigInteger)) if disabled else None
        )
        async with self._writing() as conn:
            row = (
                await conn.execute(
                    update(users)
                    .where(users.c.username == username)
                    .values(disabled_at=stamp)
                    .returning(users.c.id, users.c.username)
                )
            ).first()
            if row is None:
                return None
            if disabled:
                await self._revoke_families(conn, row.id)
        return User(row.id, row.username)

    async def _revoke_families(self, conn: AsyncConnection, user_id: int) -> None:
        """Revoke every live refresh-token family of the user.

        The UPDATE locks each family row, so it waits for a rotation in progress (which
        holds that lock, see :meth:`rotate_refresh_token`), and that rotation's successor
        belongs to the family it revokes. A login that commits after it starts a new
        family, which :meth:`rotate_refresh_token` refuses while the user is disabled.
        """
        await conn.execute(
            update(refresh_families)
            .where(refresh_families.c.user_id == user_id, refresh_families.c.revoked_at.is_(None))
            .values(revoked_at=now_ms())
        )

    async def add_refresh_token(self, token_hash: str, user_id: int, expires_at_ms: int) -> None:
        """Insert a family named by the token's hash, then the token in it."""
        async with self._writing() as conn:
            await conn.execute(
                insert(refresh_families).values(id=token_hash, user_id=user_id, created_at=now_ms())
            )
            await conn.execute(
                insert(refresh_tokens).values(
                    token_hash=token_hash,
                    user_id=user_id,
                    expires_at=expires_at_ms,
                    family_id=token_hash,
                )
            )

    async def rotate_refresh_token(
        self, old_hash: str, new_hash: str, expires_at_ms: int, now_ms: int, reuse_ms: int = 0
    ) -> RefreshRotation:
        """Lock the token's family row, then judge the token as the port describes.

        Every rotation and every revocation of a family holds its family row's lock, so
        they are serialised per family: on PostgreSQL (READ COMMITTED) the token is read
        only after the lock is held, so each statement sees the previous holder's commit,
        and a successor cannot be inserted unseen beside a revocation. SQLite has one
        writer, which serialises everything anyway (``FOR UPDATE`` is not rendered there).
        """
        tokens, families = refresh_tokens, refresh_families
        refused = RefreshRotation(RefreshOutcome.REFUSED)
        async with self._writing() as conn:
            family_id = await conn.scalar(
                select(tokens.c.family_id).where(tokens.c.token_hash == old_hash)
            )
            if family_id is None:
                return refused
            family = (
                await conn.execute(
                    select(families.c.revoked_at)
                    .where(families.c.id == family_id)
                    .with_for_update()
                )
            ).one()
            if family.revoked_at is not None:
                return refused
            token = (
                await conn.execute(
                    select(
                        tokens.c.user_id,
                        users.c.username,
                        tokens.c.expires_at,
                        tokens.c.used_at,
                        tokens.c.replaced_by,
                        users.c.disabled_at,
                    )
                    .join(users, users.c.id == tokens.c.user_id)
                    .where(tokens.c.token_hash == old_hash)
                )
            ).one()
            if token.expires_at <= now_ms or token.disabled_at is not None:
                return refused
            user = User(token.user_id, token.username)
            if token.used_at is None:
                await conn.execute(
                    update(tokens)
                    .where(tokens.c.token_hash == old_hash)
                    .values(used_at=now_ms, replaced_by=new_hash)
                )
                await conn.execute(
                    insert(tokens).values(
                        token_hash=new_hash,
                        user_id=token.user_id,
                        expires_at=expires_at_ms,
                        family_id=family_id,
                    )
                )
                return RefreshRotation(RefreshOutcome.ROTATED, user)
            if now_ms - token.used_at < reuse_ms:
                if token.replaced_by != new_hash:
                    return refused
                return RefreshRotation(RefreshOutcome.REPLAYED, user)
            await conn.execute(
                update(families).where(families.c.id == family_id).values(revoked_at=now_ms)
            )
            return RefreshRotation(RefreshOutcome.REUSED, user)

    # Rooms -----------------------------------------------------------------------------

    async def _insert_room(
        self,
        conn: AsyncConnection,
        name: str,
        kind: RoomKind,
        member_ids: Sequence[int],
        direct_key: str | None = None,
    ) -> int:
        created = now_ms()
        room_id = await conn.scalar(
            insert(rooms)
            .values(
                name=name,
                name_key=name_key(name),
                kind=kind.value,
                direct_key=direct_key,
                created_at=created,
            )
            .returning(rooms.c.id)
        )
        if member_ids:
            await conn.execute(
                insert(memberships),
                [{"room_id": room_id, "user_id": uid, "joined_at": created} for uid in member_ids],
            )
        return int(room_id)

    async def create_room(self, name: str, kind: RoomKind, member_ids: list[int]) -> Room:
        """Insert the room and its memberships together."""
        unique_ids = list(dict.fromkeys(member_ids))
        try:
            async with self._writing() as conn:
                room_id = await self._insert_room(conn, name, kind, unique_ids)
        except IntegrityError as exc:
            raise ConflictError("a member of the new room does not exist") from exc
        room = await self.get_room(room_id, with_members=True)
        if room is None:
            raise StoreError(f"room {room_id} vanished right after it was created")
        return room

    async def open_direct_room(self, a: User, b: User) -> tuple[Room, bool]:
        """Find the pair's room by its ``direct_key``; insert it if absent."""
        low, high = sorted((a, b), key=lambda u: u.id)
        direct_key = f"{low.id}:{high.id}"
        name = f"{low.username}, {high.username}"
        created = False
        async with self._reading() as conn:
            room_id = await conn.scalar(select(rooms.c.id).where(rooms.c.direct_key == direct_key))
        if room_id is None:
            try:
                async with self._writing() as conn:
                    members = [low.id] if low.id == high.id else [low.id, high.id]
                    room_id = await self._insert_room(
                        conn, name, RoomKind.DIRECT, members, direct_key
                    )
                created = True
            except IntegrityError:
                async with self._reading() as conn:
                    room_id = await conn.scalar(
                        select(rooms.c.id).where(rooms.c.direct_key == direct_key)
                    )
        room = await self.get_room(int(room_id or 0), with_members=True)
        if room is None:
            raise StoreError(f"direct room {direct_key} could not be read back")
        return room, created

    async def _members(self, conn: AsyncConnection, room_ids: list[int]) -> dict[int, list[User]]:
        found: dict[int, list[User]] = {room_id: [] for room_id in room_ids}
        if not room_ids:
            return found
        result = await conn.execute(
            select(memberships.c.room_id, users.c.id, users.c.username)
            .join(users, users.c.id == memberships.c.user_id)
            .where(memberships.c.room_id.in_(room_ids))
            .order_by(memberships.c.room_id, users.c.id)
        )
        for row in result:
            found[row.room_id].append(User(row.id, row.username))
        return found

    async def get_room(self, room_id: int, *, with_members: bool = False) -> Room | None:
        """Read one room, optionally with its members ordered by user id."""
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    select(rooms.c.id, rooms.c.name, rooms.c.kind).where(rooms.c.id == room_id)
                )
            ).first()
            if row is None:
                return None
            members = None
            if with_members:
                members = tuple((await self._members(conn, [row.id]))[row.id])
        return Room(row.id, row.name, RoomKind(row.kind), members)

    async def is_member(self, room_id: int, user_id: int) -> bool:
        """Primary-key lookup on ``memberships``."""
        async with self._reading() as conn:
            found = await conn.scalar(
                select(memberships.c.room_id).where(
                    and_(memberships.c.room_id == room_id, memberships.c.user_id == user_id)
                )
            )
        return found is not None

    async def add_member(self, room_id: int, user_id: int) -> None:
        """Insert the membership unless it exists (a concurrent duplicate is ignored)."""
        if await self.is_member(room_id, user_id):
            return
        try:
            async with self._writing() as conn:
                await conn.execute(
                    insert(memberships).values(room_id=room_id, user_id=user_id, joined_at=now_ms())
                )
        except IntegrityError:
            if not await self.is_member(room_id, user_id):
                raise ConflictError(f"room {room_id} or user {user_id} does not exist") from None

    async def remove_member(self, room_id: int, user_id: int) -> None:
        """Delete the membership row if present."""
        async with self._writing() as conn:
            await conn.execute(
                delete(memberships).where(
                    and_(memberships.c.room_id == room_id, memberships.c.user_id == user_id)
                )
            )

    async def joined_rooms(
        self, user_id: int, prefix: str, after: RoomKey | None, limit: int
    ) -> RoomPage:
        """See :mod:`baatcheet.store.room_listing`."""
        return await self._room_page(joined_page(user_id, prefix, after, limit), limit)

    async def public_rooms(self, prefix: str, after: RoomKey | None, limit: int) -> RoomPage:
        """See :mod:`baatcheet.store.room_listing`."""
        return await self._room_page(public_page(prefix, after, limit), limit)

    async def _room_page(self, query: Select[Any], limit: int) -> RoomPage:
        """Run a listing that asked for ``limit + 1`` rows; direct rooms get their members."""
        async with self._reading() as conn:
            rows = (await conn.execute(query)).all()
            shown = rows[:limit]
            direct = [row.id for row in shown if row.kind == RoomKind.DIRECT.value]
            members = await self._members(conn, direct)
        last = shown[-1] if len(rows) > limit else None
        return RoomPage(
            tuple(
                Room(
                    row.id,
                    row.name,
                    RoomKind(row.kind),
                    tuple(members[row.id]) if row.id in members else None,
                )
                for row in shown
            ),
            None if last is None else RoomKey(last.name_key, last.id),
        )

    async def member_room_kinds(self, user_id: int) -> dict[int, RoomKind]:
        """The user's memberships (``ix_memberships_user_id``) joined to their rooms."""
        async with self._reading() as conn:
            result = await conn.execute(
                select(memberships.c.room_id, rooms.c.kind)
                .join(rooms, rooms.c.id == memberships.c.room_id)
                .where(memberships.c.user_id == user_id)
            )
            return {int(row.room_id): RoomKind(row.kind) for row in result}

    # Blocks ----------------------------------------------------------------------------

    async def block_user(self, blocker_id: int, blocked_id: int) -> None:
        """Insert the pair unless present; a concurrent duplicate is ignored."""
        if await self.find_blocks([blocker_id], [blocked_id]):
            return
        try:
            async with self._writing() as conn:
                await conn.execute(
                    insert(user_blocks).values(
                        blocker_id=blocker_id, blocked_id=blocked_id, created_at=now_ms()
                    )
                )
        except IntegrityError:
            if not await self.find_blocks([blocker_id], [blocked_id]):
                raise ConflictError(f"user {blocker_id} or {blocked_id} does not exist") from None

    async def unblock_user(self, blocker_id: int, blocked_id: int) -> None:
        """Delete the pair's row if present."""
        async with self._writing() as conn:
            await conn.execute(
                delete(user_blocks).where(
                    user_blocks.c.blocker_id == blocker_id, user_blocks.c.blocked_id == blocked_id
                )
            )

    async def find_blocks(
        self, blocker_ids: Collection[int], blocked_ids: Collection[int]
    ) -> set[tuple[int, int]]:
        """Primary-key lookups on ``user_blocks``."""
        if not blocker_ids or not blocked_ids:
            return set()
        async with self._reading() as conn:
            result = await conn.execute(
                select(user_blocks.c.blocker_id, user_blocks.c.blocked_id).where(
                    user_blocks.c.blocker_id.in_(list(blocker_ids)),
                    user_blocks.c.blocked_id.in_(list(blocked_ids)),
                )
            )
            return {(int(row.blocker_id), int(row.blocked_id)) for row in result}

    async def blocked_in_room(self, room_id: int, user_id: int) -> bool:
        """The room's other members (primary key) against ``user_blocks``, both ways."""
        other = memberships.c.user_id
        either_way = or_(
            and_(user_blocks.c.blocker_id == other, user_blocks.c.blocked_id == user_id),
            and_(user_blocks.c.blocker_id == user_id, user_blocks.c.blocked_id == other),
        )
        async with self._reading() as conn:
            found = await conn.scalar(
                select(memberships.c.room_id)
                .join(user_blocks, either_way)
                .where(memberships.c.room_id == room_id, other != user_id)
                .limit(1)
            )
        return found is not None

    # Messages --------------------------------------------------------------------------

    def append_message(self, new: NewMessage) -> Awaitable[Appended]:
        """Queue the message with the group committer; await to learn it committed."""
        return self._committer.submit(new)

    async def _flush_messages(self, batch: Sequence[NewMessage]) -> list[Appended]:
        # Optimistic first: retries are rare, so insert without looking for stored
        # (author, client_id) pairs. A unique violation rolls the whole batch back, and
        # the careful pass then reads the stored originals and inserts only the rest.
        try:
            return await self._write_batch(batch, check_existing=False)
        except IntegrityError:
            pass
        try:
            return await self._write_batch(batch, check_existing=True)
        except IntegrityError:
            # Another node inserted one of our keys between our read and our insert.
            try:
                return await self._write_batch(batch, check_existing=True)
            except IntegrityError as exc:
                raise StoreError(f"message batch rejected by the database: {exc}") from exc

    async def _write_batch(
        self, batch: Sequence[NewMessage], *, check_existing: bool
    ) -> list[Appended]:
        created_at = now_ms()
        async with self._writing() as conn:
            existing: dict[_MessageKey, Message] = {}
            if check_existing:
                existing = await self._existing(conn, {_key(new) for new in batch})
            fresh: dict[_MessageKey, NewMessage] = {}
            for new in batch:
                if _key(new) not in existing:
                    fresh.setdefault(_key(new), new)
            inserted: dict[_MessageKey, Message] = {}
            if fresh:
                ids = await self._insert_messages(conn, list(fresh.values()), created_at)
                for new, message_id in zip(fresh.values(), ids, strict=True):
                    inserted[_key(new)] = stored_message(new, message_id, created_at)
        answers: list[Appended] = []
        for new in batch:
            key = _key(new)
            if key in existing:
                answers.append(Appended(existing[key], created=False))
            else:
                # Only the first of several same-key items in one batch counts as created.
                answers.append(Appended(inserted[key], created=fresh.pop(key, None) is not None))
        return answers

    async def _insert_messages(
        self, conn: AsyncConnection, batch: list[NewMessage], created_at: int
    ) -> list[int]:
        """Insert ``batch`` (no duplicates, none stored yet); return the ids in order.

        One executemany; SQLAlchemy's insertmanyvalues returns ids in parameter order.
        """
        result = await conn.execute(
            insert(messages).returning(messages.c.id, sort_by_parameter_order=True),
            [
                {
                    "room_id": new.room_id,
                    "author_id": new.author.id,
                    "body": new.body,
                    "client_id": new.client_id,
                    "created_at": created_at,
                }
                for new in batch
            ],
        )
        return [int(message_id) for message_id in result.scalars()]

    async def _existing(
        self, conn: AsyncConnection, keys: set[_MessageKey]
    ) -> dict[_MessageKey, Message]:
        result = await conn.execute(
            select(*_MESSAGE_COLUMNS)
            .join(users, users.c.id == messages.c.author_id)
            .where(tuple_(messages.c.author_id, messages.c.client_id).in_(list(keys)))
        )
        return {(row.author_id, row.client_id): _message(row) for row in result}

    async def get_message(self, message_id: int) -> Message | None:
        """Read one message with its author."""
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    select(*_MESSAGE_COLUMNS)
                    .join(users, users.c.id == messages.c.author_id)
                    .where(messages.c.id == message_id)
                )
            ).first()
        return None if row is None else _message(row)

    async def history(self, room_id: int, before: int | None, limit: int) -> HistoryPage:
        """Walk ``ix_messages_room_id_id`` backwards; fetch one extra row to learn ``has_more``."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = (
            select(*_MESSAGE_COLUMNS)
            .join(users, users.c.id == messages.c.author_id)
            .where(messages.c.room_id == room_id)
            .order_by(messages.c.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            query = query.where(messages.c.id < before)
        async with self._reading() as conn:
            rows = (await conn.execute(query)).all()
        return HistoryPage(tuple(_message(row) for row in rows[:limit]), len(rows) > limit)

    # Receipts --------------------------------------------------------------------------

    def advance_receipt(
        self, room_id: int, user_id: int, message_id: int, *, read: bool
    ) -> Awaitable[ReceiptOutcome]:
        """Group-committed like messages: every member of a busy room sends receipts for
        every message, so they are many more than the messages themselves."""
        return self._receipts.submit(_ReceiptUpdate(room_id, user_id, message_id, read))

    async def _flush_receipts(self, batch: Sequence[_ReceiptUpdate]) -> list[ReceiptOutcome]:
        """One transaction per batch: look up the messages and cursors involved, replay the
        receipts in order to learn which ones moved a cursor, write each changed
        membership once.

        The UPDATE itself only ever raises a cursor, so a concurrent writer (another node
        on the same PostgreSQL) can at worst make a receipt look like it moved.
        """
        keys = list({(receipt.room_id, receipt.user_id) for receipt in batch})
        message_ids = list({receipt.message_id for receipt in batch})
        delivered, read_up_to = memberships.c.delivered_up_to, memberships.c.read_up_to
        async with self._writing() as conn:
            room_of: dict[int, int] = {
                int(row[0]): int(row[1])
                for row in await conn.execute(
                    select(messages.c.id, messages.c.room_id).where(messages.c.id.in_(message_ids))
                )
            }
            rows = await conn.execute(
                select(memberships.c.room_id, memberships.c.user_id, delivered, read_up_to).where(
                    tuple_(memberships.c.room_id, memberships.c.user_id).in_(keys)
                )
            )
            before: dict[_MemberKey, tuple[int, int]] = {
                (row[0], row[1]): (int(row[2]), int(row[3])) for row in rows
            }
            after = dict(before)
            outcomes: list[ReceiptOutcome] = []
            for receipt in batch:
                if room_of.get(receipt.message_id) != receipt.room_id:
                    outcomes.append(ReceiptOutcome.NO_SUCH_MESSAGE)
                    continue
                key = (receipt.room_id, receipt.user_id)
                cursor = after.get(key)
                if cursor is None:  # not a member (any more)
                    outcomes.append(ReceiptOutcome.UNCHANGED)
                    continue
                new = (
                    max(cursor[0], receipt.message_id),
                    max(cursor[1], receipt.message_id) if receipt.read else cursor[1],
                )
                outcomes.append(ReceiptOutcome.MOVED if new != cursor else ReceiptOutcome.UNCHANGED)
                after[key] = new
            changed = [
                {"r": key[0], "u": key[1], "d": value[0], "rd": value[1]}
                for key, value in after.items()
                if value != before[key]
            ]
            if changed:
                await conn.execute(
                    update(memberships)
                    .where(
                        memberships.c.room_id == bindparam("r"),
                        memberships.c.user_id == bindparam("u"),
                    )
                    .values(
                        delivered_up_to=case(
                            (delivered < bindparam("d"), bindparam("d")), else_=delivered
                        ),
                        read_up_to=case(
                            (read_up_to < bindparam("rd"), bindparam("rd")), else_=read_up_to
                        ),
                    ),
                    changed,
                )
        return outcomes

    async def receipt_cursors(self, room_id: int, reader_id: int) -> ReceiptCursors:
        """``max()`` of both cursors over the room's other members (primary-key range)."""
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    select(
                        func.coalesce(func.max(memberships.c.delivered_up_to), 0),
                        func.coalesce(func.max(memberships.c.read_up_to), 0),
                    ).where(memberships.c.room_id == room_id, memberships.c.user_id != reader_id)
                )
            ).one()
        return ReceiptCursors(delivered_up_to=int(row[0]), read_up_to=int(row[1]))
