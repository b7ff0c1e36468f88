"""Password hashing with a bound: at most N argon2 computations at once, and a short queue.

argon2id is made to be expensive: each hash or check here takes 64 MiB and tens of
milliseconds of CPU. Run without a bound, a burst of logins or registrations computes all
of them at once — 16 concurrent requests took the server to 470 MB and starved the event
loop's default thread pool. So hashing runs on its own pool of ``concurrency`` threads
(never the default executor, which the event loop needs for DNS and files), and a
request waits its turn there.

The queue is bounded too: once ``max_waiting`` requests wait, the next one is refused at
once with :class:`~baatcheet.errors.OverloadedError` (HTTP 503 + ``Retry-After``) rather
than queued for longer than any client waits. The bound is per worker (``waiting_per_worker
× concurrency``), so the longest wait stays about the same, ≈ ``waiting_per_worker`` hash
times, whatever the concurrency.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from baatcheet.errors import OverloadedError

__all__ = ["WAITING_PER_WORKER", "Passwords"]

WAITING_PER_WORKER = 32
"""Requests allowed to wait per hashing thread before new ones are refused (2 threads: 64)."""

_RETRY_AFTER_S = 1.0

T = TypeVar("T")


class Passwords:
    """Hash and check passwords on a bounded pool, refusing work past a bounded queue.

    Args:
        concurrency: hashes computed at once (``Settings.password_hash_concurrency``).
        waiting_per_worker: requests that may queue per thread before refusals start.
        hasher: the argon2 parameters; argon2-cffi's defaults (argon2id, 64 MiB, t=3).
    """

    def __init__(
        self,
        concurrency: int,
        *,
        waiting_per_worker: int = WAITING_PER_WORKER,
        hasher: PasswordHasher | None = None,
    ) -> None:
        if concurrency <= 0 or waiting_per_worker < 0:
            raise ValueError(
                f"concurrency must be positive and waiting_per_worker not negative, got"
                f" {concurrency!r}, {waiting_per_worker!r}"
            )
        self.concurrency = concurrency
        self.max_waiting = waiting_per_worker * concurrency
        self._hasher = hasher or PasswordHasher()
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="baatcheet-argon2")
        # Touched by the pool's threads as well as the event loop, hence the lock.
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._peak_running = 0

    @property
    def running(self) -> int:
        """Hashes being computed right now."""
        return self._running

    @property
    def peak_running(self) -> int:
        """The most hashes ever computed at the same moment (for tests and metrics)."""
        return self._peak_running

    @property
    def waiting(self) -> int:
        """Requests admitted but not yet computing."""
        with self._lock:
            return self._admitted - self._running

    def close(self) -> None:
        """Stop the hashing threads once the hashes already started are done."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def hash(self, password: str) -> str:
        """The argon2 hash of ``password``, to store.

        Raises:
            OverloadedError: the queue is full; nothing was computed.
        """
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; a malformed hash never matches.

        Raises:
            OverloadedError: the queue is full; nothing was computed.
        """
        return await self._run(self._check, password_hash, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        with self._lock:
            if self._admitted >= self.concurrency + self.max_waiting:
                raise OverloadedError(
                    _RETRY_AFTER_S,
                    f"the server is busy checking passwords ({self._admitted} running or"
                    " queued); retry in a second",
                )
            self._admitted += 1
        try:
            future = self._pool.submit(self._measured, work, *args)
        except BaseException:
            self._leave()
            raise
        # Admission ends when the *thread's* work ends, not when this coroutine does: a
        # cancelled request whose hash already started still holds its slot until the
        # hash finishes, so `admitted` never undercounts the threads' real work. (A hash
        # still queued is cancelled with the request and leaves at once.)
        future.add_done_callback(self._left)
        return await asyncio.wrap_future(future)

    def _measured(self, work: Callable[..., T], *args: str) -> T:
        with self._lock:
            self._running += 1
            self._peak_running = max(self._peak_running, self._running)
        try:
            return work(*args)
        finally:
            with self._lock:
                self._running -= 1

    def _left(self, _future: Future[Any]) -> None:
        self._leave()

    def _leave(self) -> None:
        with self._lock:
            self._admitted -= 1
