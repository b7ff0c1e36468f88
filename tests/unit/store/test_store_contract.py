"""The Store port's written contracts, checked on every back end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from baatcheet.errors import ConflictError, StoreError
from baatcheet.store import (
    NewMessage,
    ReceiptCursors,
    ReceiptOutcome,
    RefreshOutcome,
    RefreshRotation,
    Room,
    RoomKey,
    RoomKind,
    RoomPage,
    Store,
    User,
)

MOVED, UNCHANGED = ReceiptOutcome.MOVED, ReceiptOutcome.UNCHANGED
ROTATED, REPLAYED = RefreshOutcome.ROTATED, RefreshOutcome.REPLAYED
REUSED = RefreshOutcome.REUSED
REFUSAL = RefreshRotation(RefreshOutcome.REFUSED)


def _name(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


async def _user(store: Store) -> User:
    return await store.create_user(_name(), "hash")


def _message(room_id: int, author: User, body: str = "hi", client_id: str = "") -> NewMessage:
    return NewMessage(room_id, author, body, client_id or uuid.uuid4().hex)


async def test_a_taken_username_is_refused_with_a_conflict(store: Store) -> None:
    name = _name()
    await store.create_user(name, "h1")
    with pytest.raises(ConflictError, match="taken"):
        await store.create_user(name, "h2")


async def test_credentials_are_found_by_exact_username(store: Store) -> None:
    user = await store.create_user(_name(), "secret-hash")
    found = await store.get_credentials(user.username)
    assert found is not None
    assert found.user == user
    assert found.password_hash == "secret-hash"
    assert await store.get_credentials(_name()) is None
    assert await store.get_user(user.id) == user


async def test_an_appended_message_is_readable_once_append_returns(store: Store) -> None:
    author = await _user(store)
    room = await store.create_room("general", RoomKind.PUBLIC, [author.id])
    appended = await store.append_message(_message(room.id, author, "hello"))
    assert appended.created
    stored = await store.get_message(appended.message.id)
    assert stored == appended.message
    assert stored.body == "hello"
    assert stored.author == author
    assert stored.created_at_ms > 1_700_000_000_000


async def test_a_retry_with_the_same_client_id_returns_the_original(store: Store) -> None:
    author = await _user(store)
    room = await store.create_room("r", RoomKind.PUBLIC, [author.id])
    first = await store.append_message(_message(room.id, author, "once", "cid-1"))
    again = await store.append_message(_message(room.id, author, "once", "cid-1"))
    assert not again.created
    assert again.message == first.message
    page = await store.history(room.id, None, 10)
    assert [m.id for m in page.messages] == [first.message.id]


async def test_duplicates_inside_one_batch_are_written_once(store: Store) -> None:
    author = await _user(store)
    room = await store.create_room("r", RoomKind.PUBLIC, [author.id])
    results = await asyncio.gather(
        *(store.append_message(_message(room.id, author, "x", "same")) for _ in range(5))
    )
    assert len({r.message.id for r in results}) == 1
    assert [r.created for r in results].count(True) == 1
    assert len((await store.history(room.id, None, 10)).messages) == 1


async def test_the_same_client_id_from_two_authors_is_two_messages(store: Store) -> None:
    alice, bob = await _user(store), await _user(store)
    room = await store.create_room("r", RoomKind.PUBLIC, [alice.id, bob.id])
    a = await store.append_message(_message(room.id, alice, "a", "cid"))
    b = await store.append_message(_message(room.id, bob, "b", "cid"))
    assert a.created and b.created
    assert a.message.id != b.message.id


async def test_concurrent_appends_get_ids_in_submission_order(store: Store) -> None:
    author = await _user(store)
    room = await store.create_room("r", RoomKind.PUBLIC, [author.id])
    results = await asyncio.gather(
        *(store.append_message(_message(room.id, author, str(i))) for i in range(300))
    )
    ids = [r.message.id for r in results]
    assert ids == sorted(ids)
    assert len(set(ids)) == 300
    page = await store.history(room.id, None, 100)
    assert [m.body for m in page.messages] == [str(i) for i in range(299, 199, -1)]


async def test_a_failing_batch_writes_nothing_and_fails_every_caller(store: Store) -> None:
    author = await _user(store)
    room = await store.create_room("r", RoomKind.PUBLIC, [author.id])
    missing_room = 2**40
    results = await asyncio.gather(
        store.append_message(_message(room.id, author, "good")),
        store.append_message(_message(missing_room, author, "bad")),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreError) for r in results), results
    assert (await store.history(room.id, None, 10)).messages == ()
    # The writer survives the failure and commits the next batch.
    assert (await store.append_message(_message(room.id, author, "later"))).created


async def test_history_pages_newest_first_with_a_before_cursor(store: Store) -> None:
    author = await _user(store)
    room = await store.create_room("r", RoomKind.PUBLIC, [author.id])
    for i in range(7):
        await store.append_message(_message(room.id, author, f"m{i}"))
    first = await store.history(room.id, None, 3)
    assert [m.body for m in first.messages] == ["m6", "m5", "m4"]
    assert first.has_more
    second = await store.history(room.id, first.messages[-1].id, 3)
    assert [m.body for m in second.messages] == ["m3", "m2", "m1"]
    last = await store.history(room.id, second.messages[-1].id, 3)
    assert [m.body for m in last.messages] == ["m0"]
    assert not last.has_more


async def _walk(
    list_page: Callable[[RoomKey | None], Awaitable[RoomPage]],
) -> list[list[Room]]:
    """Every page of a listing, following ``next`` until it is ``None``."""
    pages: list[list[Room]] = []
    after: RoomKey | None = None
    while True:
        page = await list_page(after)
        pages.append(list(page.rooms))
        if page.next is None:
            return pages
        assert len(pages) < 100, "the listing never ends"
        after = page.next


async def test_joined_rooms_are_my_rooms_only_and_only_direct_ones_carry_members(
    store: Store,
) -> None:
    me, other = await _user(store), await _user(store)
    joined = await store.create_room("b-pub", RoomKind.PUBLIC, [me.id, other.id])
    await store.create_room("a-pub-not-joined", RoomKind.PUBLIC, [other.id])
    mine = await store.create_room("c-mine", RoomKind.PRIVATE, [me.id, other.id])
    await store.create_room("theirs", RoomKind.PRIVATE, [other.id])
    direct, _ = await store.open_direct_room(me, other)

    page = await store.joined_rooms(me.id, "", None, 50)
    assert [room.id for room in page.rooms] == [joined.id, mine.id, direct.id]
    assert page.next is None
    assert [room.members for room in page.rooms] == [None, None, (me, other)]
    assert await store.member_room_kinds(me.id) == {
        joined.id: RoomKind.PUBLIC,
        mine.id: RoomKind.PRIVATE,
        direct.id: RoomKind.DIRECT,
    }


async def test_public_rooms_page_by_folded_name_then_id_without_gaps_or_repeats(
    store: Store,
) -> None:
    owner = await _user(store)
    tag = _name("q")
    names = [f"{tag} b", f"{tag} A", f"{tag} a", f"{tag} C", f"{tag} a", f"{tag} B", f"{tag} c"]
    created = [await store.create_room(name, RoomKind.PUBLIC, [owner.id]) for name in names]
    await store.create_room(f"{tag} private", RoomKind.PRIVATE, [owner.id])

    pages = await _walk(lambda after: store.public_rooms(tag, after, 2))
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    listed = [room.id for page in pages for room in page]
    expected = sorted(created, key=lambda room: (room.name.casefold(), room.id))
    assert listed == [room.id for room in expected]


async def test_a_name_search_is_a_case_insensitive_prefix_match(store: Store) -> None:
    owner = await _user(store)
    tag = _name("s")
    street = await store.create_room(f"{tag} Straße", RoomKind.PUBLIC, [owner.id])
    await store.create_room(f"{tag} Strand", RoomKind.PUBLIC, [owner.id])
    await store.create_room(f"the {tag} strasse", RoomKind.PUBLIC, [owner.id])

    found = await store.public_rooms(f"{tag.upper()} STRASS", None, 50)
    assert [room.id for room in found.rooms] == [street.id]
    assert len((await store.public_rooms(f"{tag} str", None, 50)).rooms) == 2
    assert (await store.public_rooms(f"{tag}x", None, 50)).rooms == ()


async def test_a_room_that_sorts_before_a_page_key_never_shifts_the_next_page(
    store: Store,
) -> None:
    owner = await _user(store)
    tag = _name("k")
    rooms = [await store.create_room(f"{tag} {n}", RoomKind.PUBLIC, [owner.id]) for n in "bcd"]
    first = await store.public_rooms(tag, None, 2)
    assert first.next is not None
    await store.create_room(f"{tag} a", RoomKind.PUBLIC, [owner.id])
    second = await store.public_rooms(tag, first.next, 2)
    assert [room.id for room in second.rooms] == [rooms[2].id]
    assert second.next is None


async def test_my_rooms_page_like_public_ones_and_honour_the_prefix(store: Store) -> None:
    me = await _user(store)
    created = [await store.create_room(f"r{n}", RoomKind.PRIVATE, [me.id]) for n in range(5)]
    pages = await _walk(lambda after: store.joined_rooms(me.id, "", after, 2))
    assert [[room.id for room in page] for page in pages] == [
        [created[0].id, created[1].id],
        [created[2].id, created[3].id],
        [created[4].id],
    ]
    found = await store.joined_rooms(me.id, "R3", None, 2)
    assert [room.id for room in found.rooms] == [created[3].id]


async def test_a_block_is_one_way_idempotent_and_can_be_lifted(store: Store) -> None:
    alice, bob, carol = await _user(store), await _user(store), await _user(store)
    await store.block_user(alice.id, bob.id)
    await store.block_user(alice.id, bob.id)
    everyone = [alice.id, bob.id, carol.id]
    assert await store.find_blocks(everyone, everyone) == {(alice.id, bob.id)}
    assert await store.find_blocks([bob.id], [alice.id]) == set()
    await store.unblock_user(alice.id, bob.id)
    await store.unblock_user(alice.id, bob.id)
    assert await store.find_blocks(everyone, everyone) == set()
    assert await store.find_blocks([], everyone) == set()


async def test_blocking_a_user_who_does_not_exist_is_a_conflict(store: Store) -> None:
    alice = await _user(store)
    with pytest.raises(ConflictError):
        await store.block_user(alice.id, 2**40)


async def test_a_block_either_way_shows_in_the_rooms_both_users_are_in(store: Store) -> None:
    alice, bob, carol = await _user(store), await _user(store), await _user(store)
    direct, _ = await store.open_direct_room(alice, bob)
    elsewhere = await store.create_room("r", RoomKind.PRIVATE, [alice.id, carol.id])
    assert not await store.blocked_in_room(direct.id, alice.id)
    await store.block_user(bob.id, alice.id)
    assert await store.blocked_in_room(direct.id, alice.id)
    assert await store.blocked_in_room(direct.id, bob.id)
    assert not await store.blocked_in_room(elsewhere.id, alice.id)
    await store.remove_member(direct.id, bob.id)
    assert not await store.blocked_in_room(direct.id, alice.id)


async def test_membership_can_be_added_and_removed_idempotently(store: Store) -> None:
    me = await _user(store)
    room = await store.create_room("pub", RoomKind.PUBLIC, [])
    assert not await store.is_member(room.id, me.id)
    await store.add_member(room.id, me.id)
    await store.add_member(room.id, me.id)
    assert await store.is_member(room.id, me.id)
    await store.remove_member(room.id, me.id)
    await store.remove_member(room.id, me.id)
    assert not await store.is_member(room.id, me.id)


async def test_a_direct_room_is_the_same_room_from_either_side(store: Store) -> None:
    alice, bob = await _user(store), await _user(store)
    results = await asyncio.gather(
        store.open_direct_room(alice, bob), store.open_direct_room(bob, alice)
    )
    (room_a, _), (room_b, _) = results
    assert room_a.id == room_b.id
    assert [created for _, created in results].count(True) == 1
    assert room_a.kind is RoomKind.DIRECT
    assert set(room_a.members or ()) == {alice, bob}


def _tokens(*names: str) -> tuple[str, ...]:
    """Token hashes unique to this test (the PostgreSQL database is shared)."""
    run = uuid.uuid4().hex[:12]
    return tuple(f"{name}-{run}" for name in names)


async def test_a_live_refresh_token_rotates_to_its_successor(store: Store) -> None:
    user = await _user(store)
    old, new, newer = _tokens("old", "new", "newer")
    await store.add_refresh_token(old, user.id, expires_at_ms=2_000)
    assert await store.rotate_refresh_token(old, new, 5_000, now_ms=1_000) == RefreshRotation(
        ROTATED, user
    )
    # The successor lives until its own expiry, past the old token's.
    assert (await store.rotate_refresh_token(new, newer, 9_000, now_ms=3_000)).outcome is ROTATED


async def test_an_unknown_or_expired_refresh_token_is_refused(store: Store) -> None:
    user = await _user(store)
    token, unknown, successor = _tokens("token", "unknown", "successor")
    await store.add_refresh_token(token, user.id, expires_at_ms=2_000)
    assert await store.rotate_refresh_token(unknown, successor, 9_000, now_ms=1_000) == REFUSAL
    assert await store.rotate_refresh_token(token, successor, 9_000, now_ms=2_000) == REFUSAL
    assert await store.rotate_refresh_token(successor, unknown, 9_000, now_ms=1_000) == REFUSAL


async def test_a_replay_inside_the_reuse_window_names_the_same_successor(store: Store) -> None:
    user = await _user(store)
    old, a, b, c = _tokens("old", "a", "b", "c")
    await store.add_refresh_token(old, user.id, expires_at_ms=100_000)
    assert (await store.rotate_refresh_token(old, a, 200_000, 1_000, reuse_ms=500)).outcome is (
        ROTATED
    )
    # A reloaded page that never saw `a` comes back with `old` 300 ms later: it is told `a`.
    replayed = await store.rotate_refresh_token(old, a, 200_000, 1_300, reuse_ms=500)
    assert replayed == RefreshRotation(REPLAYED, user)
    # Any other successor is refused, but that alone revokes nothing.
    assert await store.rotate_refresh_token(old, b, 200_000, 1_300, reuse_ms=500) == REFUSAL
    assert (await store.rotate_refresh_token(a, c, 200_000, 1_400, reuse_ms=500)).outcome is (
        ROTATED
    )


async def test_a_replay_after_the_reuse_window_revokes_the_whole_family(store: Store) -> None:
    user = await _user(store)
    old, a, b, c, other, other_next = _tokens("old", "a", "b", "c", "other", "other-next")
    await store.add_refresh_token(old, user.id, expires_at_ms=100_000)
    await store.add_refresh_token(other, user.id, expires_at_ms=100_000)  # a second login
    await store.rotate_refresh_token(old, a, 200_000, 1_000, reuse_ms=500)
    await store.rotate_refresh_token(a, b, 200_000, 1_100, reuse_ms=500)
    reused = await store.rotate_refresh_token(old, a, 200_000, 1_500, reuse_ms=500)
    assert reused == RefreshRotation(REUSED, user)
    # Every token of the family is dead, the newest (`b`) included, and stays dead.
    for token in (b, a, old):
        assert await store.rotate_refresh_token(token, c, 200_000, 1_600, reuse_ms=500) == REFUSAL
    # The user's other login is another family and is untouched.
    assert (await store.rotate_refresh_token(other, other_next, 200_000, 1_600)).outcome is (
        ROTATED
    )


async def test_concurrent_rotations_of_one_token_rotate_it_once(store: Store) -> None:
    user = await _user(store)
    old, new = _tokens("old", "new")
    await store.add_refresh_token(old, user.id, expires_at_ms=100_000)
    results = await asyncio.gather(
        *(store.rotate_refresh_token(old, new, 200_000, 1_000, reuse_ms=500) for _ in range(8))
    )
    outcomes = sorted(result.outcome for result in results)
    assert outcomes == sorted([ROTATED] + [REPLAYED] * 7)


async def test_a_revocation_racing_a_rotation_leaves_no_token_alive(store: Store) -> None:
    user = await _user(store)
    for _ in range(5):
        old, a, b, c = _tokens("old", "a", "b", "c")
        await store.add_refresh_token(old, user.id, expires_at_ms=100_000)
        await store.rotate_refresh_token(old, a, 200_000, 1_000, reuse_ms=500)
        # The thief replays `old` late while the owner rotates `a`: in either order the
        # family ends revoked, including the `b` the owner's rotation may have written.
        await asyncio.gather(
            store.rotate_refresh_token(old, a, 200_000, 2_000, reuse_ms=500),
            store.rotate_refresh_token(a, b, 200_000, 2_000, reuse_ms=500),
        )
        for token in (a, b):
            assert await store.rotate_refresh_token(token, c, 200_000, 2_100) == REFUSAL


async def test_the_instance_secret_is_stable(store: Store) -> None:
    first = await store.instance_secret("jwt")
    assert len(first) >= 32
    assert await store.instance_secret("jwt") == first
    assert await store.instance_secret("other") != first


async def test_ping_answers_while_the_database_is_up(store: Store) -> None:
    await store.ping()


async def test_receipt_cursors_only_move_forward_and_read_implies_delivered(
    store: Store,
) -> None:
    alice, bob, carol = await _user(store), await _user(store), await _user(store)
    room = await store.create_room("r", RoomKind.PRIVATE, [alice.id, bob.id, carol.id])
    first, second = [
        (await store.append_message(_message(room.id, alice, body))).message.id
        for body in ("one", "two")
    ]
    assert await store.receipt_cursors(room.id, alice.id) == ReceiptCursors(0, 0)

    assert await store.advance_receipt(room.id, bob.id, second, read=False) is MOVED
    assert await store.advance_receipt(room.id, bob.id, first, read=False) is UNCHANGED
    assert await store.advance_receipt(room.id, bob.id, second, read=False) is UNCHANGED
    assert await store.advance_receipt(room.id, carol.id, first, read=True) is MOVED
    assert await store.receipt_cursors(room.id, alice.id) == ReceiptCursors(second, first)
    # A reader's own cursors are left out: bob sees only what the others got.
    assert await store.receipt_cursors(room.id, bob.id) == ReceiptCursors(first, first)


async def test_a_receipt_from_someone_who_is_no_member_moves_nothing(store: Store) -> None:
    alice, outsider = await _user(store), await _user(store)
    room = await store.create_room("r", RoomKind.PRIVATE, [alice.id])
    message = (await store.append_message(_message(room.id, alice))).message
    assert await store.advance_receipt(room.id, outsider.id, message.id, read=True) is UNCHANGED
    assert await store.receipt_cursors(room.id, alice.id) == ReceiptCursors(0, 0)


async def test_receipts_submitted_together_are_judged_in_order(store: Store) -> None:
    """One batch, one member: each receipt moved the cursor only if it was ahead of it."""
    alice, bob = await _user(store), await _user(store)
    room = await store.create_room("r", RoomKind.PRIVATE, [alice.id, bob.id])
    one, two, three = [
        (await store.append_message(_message(room.id, alice, body))).message.id
        for body in ("one", "two", "three")
    ]
    moved = await asyncio.gather(
        *(
            store.advance_receipt(room.id, bob.id, message_id, read=read)
            for message_id, read in [(two, False), (one, False), (three, False), (one, True)]
        )
    )
    assert moved == [MOVED, UNCHANGED, MOVED, MOVED]
    assert await store.receipt_cursors(room.id, alice.id) == ReceiptCursors(three, one)


async def test_a_receipt_for_a_message_of_another_room_is_refused_and_stores_nothing(
    store: Store,
) -> None:
    alice, bob = await _user(store), await _user(store)
    room = await store.create_room("r", RoomKind.PRIVATE, [alice.id, bob.id])
    elsewhere = await store.create_room("elsewhere", RoomKind.PRIVATE, [alice.id])
    message = (await store.append_message(_message(elsewhere.id, alice))).message
    refused = ReceiptOutcome.NO_SUCH_MESSAGE
    assert await store.advance_receipt(room.id, bob.id, message.id, read=True) is refused
    assert await store.advance_receipt(room.id, bob.id, 2**60, read=False) is refused
    assert await store.receipt_cursors(room.id, alice.id) == ReceiptCursors(0, 0)
