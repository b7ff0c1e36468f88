"""Group commit: many concurrent writes, one transaction.

Committing is the expensive part of a write (an fsync on SQLite, a round trip and a WAL
flush on PostgreSQL). :class:`GroupCommitter` lets callers ``await submit(item)`` as if
each item were written alone, while one background task hands whatever has queued to
``flush`` as a single batch.

``window_s`` is how long a batch stays open for more writes once the first has arrived —
but only when the committer is busy: a write that arrives after ``window_s`` without any
flush is flushed at once, so a quiet server adds no latency, while a busy one pays for
one commit per window-plus-commit however many writes arrive.

Each flushed batch is reported to a :class:`CommitObserver` (its size, how long the
commit took, whether it succeeded): the numbers that say whether the window is right.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Generic, Protocol, TypeVar

from baatcheet.errors import StoreError

__all__ = ["NO_COMMIT_OBSERVER", "CommitObserver", "GroupCommitter"]

T = TypeVar("T")
R = TypeVar("R")

FlushFn = Callable[[Sequence[T]], Awaitable[Sequence[R]]]


class CommitObserver(Protocol):
    """Told of every batch a :class:`GroupCommitter` flushes (on the event loop's thread)."""

    def batch_committed(self, name: str, size: int, seconds: float, ok: bool) -> None:
        """Committer ``name`` flushed ``size`` items in ``seconds``; ``ok`` if it committed."""


class _NoCommitObserver:
    __slots__ = ()

    def batch_committed(self, name: str, size: int, seconds: float, ok: bool) -> None:
        del name, size, seconds, ok


NO_COMMIT_OBSERVER: Final[CommitObserver] = _NoCommitObserver()
"""The observer that observes nothing (a committer's default)."""


class GroupCommitter(Generic[T, R]):
    """Batch items into calls of ``flush``; resolve each caller with its own result.

    ``flush(batch)`` must be all-or-nothing and return one result per item, in order.
    If it raises, every caller in that batch gets the exception (a ``StoreError`` for
    anything that is not one already). Batches are flushed one at a time, in arrival
    order, so item order across batches is submission order.
    """

    def __init__(
        self,
        flush: FlushFn[T, R],
        *,
        window_s: float,
        max_batch: int = 1000,
        name: str = "writes",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.name = name
        """What this committer writes (``messages``, ``receipts``), as the observer sees it."""
        self.observer: CommitObserver = NO_COMMIT_OBSERVER
        """Told of each flushed batch; set it to observe (metrics)."""
        self._flush = flush
        self._window_s = window_s
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._wakeup = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    def submit(self, item: T) -> asyncio.Future[R]:
        """Queue ``item`` now; the future resolves when the batch holding it committed.

        Synchronous on purpose: the item's place in the order is fixed by this call, not
        by when the caller gets round to awaiting. Cancelling the future does not take the
        item out of its batch.
        """
        if self._closed:
            raise StoreError("the store is closed; no more writes are accepted")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wakeup.set()
        return future

    async def close(self) -> None:
        """Flush what is queued, then stop the writer task. Idempotent."""
        self._closed = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_flush_end = -self._window_s
        while True:
            await self._wakeup.wait()
            busy = loop.time() - last_flush_end < self._window_s
            if busy and self._pending and len(self._pending) < self._max_batch:
                # Let the writes that are already on their way join this batch.
                await asyncio.sleep(self._window_s)
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._flush_batch(batch)
                last_flush_end = loop.time()
            if self._closed:
                return

    async def _flush_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            results = await self._flush([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every failure must reach the callers, never kill the loop
            self.observer.batch_committed(self.name, len(batch), loop.time() - started, False)
            error = exc if isinstance(exc, StoreError) else StoreError(f"write failed: {exc}")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self.observer.batch_committed(self.name, len(batch), loop.time() - started, True)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
