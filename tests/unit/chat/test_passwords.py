"""The bounded password-hashing pool: real argon2, and a hasher held at a gate to count."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from argon2 import PasswordHasher

from baatcheet.chat.passwords import Passwords
from baatcheet.errors import OverloadedError


class GatedHasher(PasswordHasher):
    """argon2 that waits at a gate before hashing, so a test decides when hashes end."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.started.release()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        return super().hash(password, salt=salt)


@pytest.fixture
async def gated() -> AsyncIterator[GatedHasher]:
    hasher = GatedHasher()
    yield hasher
    hasher.gate.set()  # never leave a pool thread parked


async def _started(hasher: GatedHasher, count: int) -> None:
    """Wait until ``count`` more hashes are inside the hasher."""
    for _ in range(count):
        assert await asyncio.to_thread(hasher.started.acquire, True, 10)


async def _idle(passwords: Passwords) -> None:
    """Wait (a bounded while) until the pool's threads have finished and left.

    Polled: the counters are released by the pool's threads, which have no event to set.
    """
    async with asyncio.timeout(10):
        while passwords.running or passwords.waiting:  # noqa: ASYNC110 - see the docstring
            await asyncio.sleep(0.01)


async def test_a_hash_verifies_against_its_password_only() -> None:
    passwords = Passwords(2)
    stored = await passwords.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify(stored, "correct horse")
    assert not await passwords.verify(stored, "wrong horse")
    assert not await passwords.verify("not-a-hash", "correct horse")


async def test_no_more_than_the_concurrency_run_and_the_queue_is_bounded(
    gated: GatedHasher,
) -> None:
    passwords = Passwords(2, waiting_per_worker=1, hasher=gated)
    assert passwords.max_waiting == 2
    admitted = [asyncio.create_task(passwords.hash(f"password {n}")) for n in range(4)]
    await _started(gated, 2)
    await asyncio.sleep(0)  # let the queued two reach the pool
    assert (passwords.running, passwords.waiting) == (2, 2)
    with pytest.raises(OverloadedError, match="busy checking passwords") as refused:
        await passwords.hash("one too many")
    assert refused.value.retry_after_s == 1.0
    gated.gate.set()
    hashes = await asyncio.gather(*admitted)
    assert len(set(hashes)) == 4
    assert passwords.peak_running == 2
    assert (passwords.running, passwords.waiting) == (0, 0)


async def test_a_cancelled_request_holds_its_slot_until_its_hash_ends(
    gated: GatedHasher,
) -> None:
    passwords = Passwords(1, waiting_per_worker=0, hasher=gated)
    request = asyncio.create_task(passwords.hash("abandoned"))
    await _started(gated, 1)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    # The thread is still hashing: admitting another would run two at once.
    with pytest.raises(OverloadedError):
        await passwords.hash("next")
    gated.gate.set()
    await _idle(passwords)
    assert await passwords.verify(await passwords.hash("next"), "next")
    assert passwords.peak_running == 1


async def test_a_cancelled_request_still_queued_leaves_at_once(gated: GatedHasher) -> None:
    passwords = Passwords(1, waiting_per_worker=1, hasher=gated)
    running = asyncio.create_task(passwords.hash("first"))
    await _started(gated, 1)
    queued = asyncio.create_task(passwords.hash("second"))
    await asyncio.sleep(0)
    assert passwords.waiting == 1
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert passwords.waiting == 0
    gated.gate.set()
    await running
    assert passwords.peak_running == 1


@pytest.mark.parametrize(("concurrency", "waiting"), [(0, 1), (1, -1)])
def test_the_pool_needs_a_worker_and_a_queue_that_is_not_negative(
    concurrency: int, waiting: int
) -> None:
    with pytest.raises(ValueError, match="concurrency must be positive"):
        Passwords(concurrency, waiting_per_worker=waiting)
