"""Persistence ports and the records they exchange.

The chat layer talks to storage only through the :class:`Store` protocol below, so the
SQLite and PostgreSQL back ends are interchangeable. Each method documents the contract a
back end must keep; the shared test suite in ``tests/unit/store`` checks every back end
against those contracts.

Contracts common to every method:

* **Atomicity.** A method either takes full effect or none: on failure it raises
  :class:`~baatcheet.errors.StoreError` (the database is unreachable or refused the
  write) and nothing was written.
* **Durability.** A method returns only after its transaction committed; an
  acknowledgement built from its result may be sent to a client.
* **Time.** Timestamps are integer milliseconds since the epoch, assigned by the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from baatcheet.store.group_commit import CommitObserver

__all__ = [
    "Appended",
    "Credentials",
    "HistoryPage",
    "Message",
    "NewMessage",
    "ReceiptCursors",
    "ReceiptOutcome",
    "RefreshOutcome",
    "RefreshRotation",
    "Room",
    "RoomKey",
    "RoomKind",
    "RoomPage",
    "Store",
    "User",
]


class RoomKind(StrEnum):
    """Who may see and join a room."""

    PUBLIC = "public"
    """Listed to everyone; anyone may join."""
    PRIVATE = "private"
    """Visible and joinable only by its members."""
    DIRECT = "direct"
    """A conversation between exactly two users; created once per pair."""


@dataclass(frozen=True, slots=True)
class User:
    """A registered account as other users see it."""

    id: int
    username: str


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user with what a login checks; never leaves the server."""

    user: User
    password_hash: str
    disabled: bool = False
    """An operator disabled the account: even the right password does not log it in."""


@dataclass(frozen=True, slots=True)
class Room:
    """A room and, when asked for, its members."""

    id: int
    name: str
    kind: RoomKind
    members: tuple[User, ...] | None = None


@dataclass(frozen=True, slots=True)
class RoomKey:
    """A room's place in every room listing, for keyset pagination.

    Listings are ordered by the room's name folded to lower case (Unicode case folding),
    then by id; a page that continues after a key holds only rooms that sort after it,
    so rooms created or renamed meanwhile never shift a later page.
    """

    name_key: str
    room_id: int


@dataclass(frozen=True, slots=True)
class RoomPage:
    """One page of a room listing and where the next one starts (``None``: no more)."""

    rooms: tuple[Room, ...]
    next: RoomKey | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message a client asked to post; validated by the caller before it gets here."""

    room_id: int
    author: User
    body: str
    client_id: str


@dataclass(frozen=True, slots=True)
class Message:
    """A committed message."""

    id: int
    room_id: int
    author: User
    body: str
    client_id: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class Appended:
    """What :meth:`Store.append_message` did.

    ``created`` is false when ``(author, client_id)`` was already stored: ``message`` is
    then the original, and the caller must not broadcast it a second time.
    """

    message: Message
    created: bool


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a room's history, newest first."""

    messages: tuple[Message, ...]
    has_more: bool


class ReceiptOutcome(StrEnum):
    """What storing one receipt did."""

    MOVED = "moved"
    """A cursor of the member went up."""
    UNCHANGED = "unchanged"
    """The cursors were already there (or the user is no member of the room)."""
    NO_SUCH_MESSAGE = "no_such_message"
    """The message does not exist in that room; nothing was stored."""


@dataclass(frozen=True, slots=True)
class ReceiptCursors:
    """How far the *other* members of a room got: the newest message id any of them has
    received and the newest any of them has read (0: none yet).

    A reader's own messages with ``id <= read_up_to`` are read, else with
    ``id <= delivered_up_to`` delivered, else sent.
    """

    delivered_up_to: int
    read_up_to: int


class RefreshOutcome(StrEnum):
    """What presenting a refresh token did; see :meth:`Store.rotate_refresh_token`."""

    ROTATED = "rotated"
    """It was live and unused; its successor is stored."""
    REPLAYED = "replayed"
    """It was rotated to the same successor within the reuse window; nothing changed."""
    REUSED = "reused"
    """It was rotated before the reuse window: a replay, so its whole family is revoked."""
    REFUSED = "refused"
    """Unknown, expired, or of a revoked family; nothing changed."""


@dataclass(frozen=True, slots=True)
class RefreshRotation:
    """The outcome of a rotation, with the token's user unless it was ``REFUSED``."""

    outcome: RefreshOutcome
    user: User | None = None


class Store(Protocol):
    """Everything the chat layer persists."""

    async def close(self) -> None:
        """Flush pending writes, then release connections. Idempotent."""

    async def ping(self) -> None:
        """Return if the database answers a trivial query; raise ``StoreError`` if not."""

    def observe_commits(self, observer: CommitObserver) -> None:
        """Report each group-committed batch (messages, receipts) to ``observer``."""

    async def instance_secret(self, name: str) -> str:
        """Return a random secret that stays the same across restarts of this deployment.

        Created on first call. Used for the JWT key when ``Settings.jwt_secret`` is empty.
        """

    # Users -----------------------------------------------------------------------------

    async def create_user(self, username: str, password_hash: str) -> User:
        """Insert a user. Raises ``ConflictError`` if ``username`` is taken."""

    async def get_credentials(self, username: str) -> Credentials | None:
        """Return the user named ``username`` with its password hash, or ``None``."""

    async def get_user(self, user_id: int) -> User | None:
        """Return the user with this id, or ``None``."""

    async def is_disabled(self, user_id: int) -> bool:
        """Whether an operator disabled the user; ``False`` for an unknown id."""

    async def set_password(self, username: str, password_hash: str) -> User | None:
        """Replace the user's password hash and revoke every refresh-token family of the
        user, in one transaction: each of the account's logins ends at its next refresh.

        Returns the user, or ``None`` (nothing written) if there is no such user.
        """

    async def set_disabled(self, username: str, disabled: bool) -> User | None:
        """Disable or enable the account; ``None`` (nothing written) if there is no such user.

        Disabling also revokes every refresh-token family of the user in the same
        transaction, so none of its tokens refreshes again; enabling brings none back (the
        user logs in anew). Both are idempotent: disabling a disabled user keeps the time it
        was first disabled.
        """

    async def add_refresh_token(self, token_hash: str, user_id: int, expires_at_ms: int) -> None:
        """Remember a refresh token (by its hash) until ``expires_at_ms``.

        The token starts a new family (a login), named by ``token_hash``.
        """

    async def rotate_refresh_token(
        self, old_hash: str, new_hash: str, expires_at_ms: int, now_ms: int, reuse_ms: int = 0
    ) -> RefreshRotation:
        """Spend the refresh token ``old_hash`` for its successor ``new_hash``, atomically.

        Judged in this order, at ``now_ms``:

        * unknown, expired, of a revoked family, or of a disabled user → ``REFUSED``,
          nothing written;
        * never rotated → ``ROTATED``: it is marked used, with ``new_hash`` as its
          successor, and ``new_hash`` joins its family until ``expires_at_ms``;
        * rotated less than ``reuse_ms`` ago to this same ``new_hash`` → ``REPLAYED``,
          nothing written (the caller hands out the same successor again);
        * rotated longer ago → ``REUSED``: the whole family is revoked, so every token of
          it — the newest included — is ``REFUSED`` from now on. A rotation inside the
          window to a *different* successor is ``REFUSED`` without revoking.

        The user is set except for ``REFUSED``. Concurrent calls for one token are
        serialised: exactly one of them is ``ROTATED``. A family revoked concurrently with
        a rotation also revokes the successor that rotation wrote.
        """

    # Rooms -----------------------------------------------------------------------------

    async def create_room(self, name: str, kind: RoomKind, member_ids: list[int]) -> Room:
        """Create a room with these members (duplicates ignored), returned with members.

        Raises ``ConflictError`` if a member id does not exist.
        """

    async def open_direct_room(self, a: User, b: User) -> tuple[Room, bool]:
        """Return the one direct room between ``a`` and ``b``, creating it if needed.

        The flag is true when this call created it. Concurrent calls for the same pair
        return the same room.
        """

    async def get_room(self, room_id: int, *, with_members: bool = False) -> Room | None:
        """Return the room, or ``None`` if it does not exist."""

    async def is_member(self, room_id: int, user_id: int) -> bool:
        """Whether the user is a member of the room."""

    async def add_member(self, room_id: int, user_id: int) -> None:
        """Make the user a member; no-op if already one."""

    async def remove_member(self, room_id: int, user_id: int) -> None:
        """Remove the membership; no-op if there was none."""

    async def joined_rooms(
        self, user_id: int, prefix: str, after: RoomKey | None, limit: int
    ) -> RoomPage:
        """Up to ``limit`` rooms the user is a member of, in :class:`RoomKey` order.

        Only rooms whose name starts with ``prefix`` (case-insensitively; ``""`` for all)
        and that sort after ``after`` are listed. Direct rooms carry their two members;
        public and private rooms carry none, so a page's size stays bounded.
        """

    async def public_rooms(self, prefix: str, after: RoomKey | None, limit: int) -> RoomPage:
        """Up to ``limit`` public rooms, like :meth:`joined_rooms` but over every public
        room. Cost: one range scan of an index on (kind, name key, id), so a page costs
        the same however many rooms there are."""

    async def member_room_kinds(self, user_id: int) -> dict[int, RoomKind]:
        """The rooms the user is a member of, by id, with their kinds."""

    # Blocks ----------------------------------------------------------------------------

    async def block_user(self, blocker_id: int, blocked_id: int) -> None:
        """Record that ``blocker_id`` blocks ``blocked_id``; no-op if already recorded.

        Raises ``ConflictError`` if either user does not exist.
        """

    async def unblock_user(self, blocker_id: int, blocked_id: int) -> None:
        """Forget that block; no-op if there was none."""

    async def find_blocks(
        self, blocker_ids: Collection[int], blocked_ids: Collection[int]
    ) -> set[tuple[int, int]]:
        """The recorded blocks ``(blocker, blocked)`` with the blocker among
        ``blocker_ids`` and the blocked user among ``blocked_ids``."""

    async def blocked_in_room(self, room_id: int, user_id: int) -> bool:
        """Whether the user blocks, or is blocked by, another member of the room."""

    # Messages --------------------------------------------------------------------------

    def append_message(self, new: NewMessage) -> Awaitable[Appended]:
        """Persist a message; the awaitable resolves once its transaction has committed.

        Concurrent calls are batched into one transaction (group commit), so many
        messages share one fsync. Ordering: the message takes its place when the method
        is *called* (before anything is awaited); messages get ids in call order, and
        within a room id order is history order. Abandoning the awaitable does not
        cancel the write. Idempotency: a second call
        with the same ``(author, client_id)`` — in the same batch or any later one —
        writes nothing and returns the original with ``created=False``. If the batch's
        transaction fails, every call in it raises ``StoreError`` and none was written.
        """

    async def get_message(self, message_id: int) -> Message | None:
        """Return one committed message, or ``None``."""

    async def history(self, room_id: int, before: int | None, limit: int) -> HistoryPage:
        """Up to ``limit`` messages of the room with id < ``before``, newest first."""

    # Receipts --------------------------------------------------------------------------

    def advance_receipt(
        self, room_id: int, user_id: int, message_id: int, *, read: bool
    ) -> Awaitable[ReceiptOutcome]:
        """Raise the member's delivered cursor (and read cursor if ``read``) to ``message_id``.

        Cursors never move back: a receipt older than the cursor changes nothing, and a
        receipt for a message that is not in the room is refused. Batched like
        :meth:`append_message`, and judged in submission order; resolves once committed.
        If the batch's transaction fails, every call in it raises ``StoreError``.
        """

    async def receipt_cursors(self, room_id: int, reader_id: int) -> ReceiptCursors:
        """The highest cursors among the room's members other than ``reader_id``."""
