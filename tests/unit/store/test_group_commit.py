"""GroupCommitter: concurrent submits share one flush; failures reach every caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from baatcheet.errors import StoreError
from baatcheet.store.group_commit import GroupCommitter


class _Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def flush(self, batch: Sequence[int]) -> list[int]:
        self.batches.append(list(batch))
        if self.fail:
            raise RuntimeError("disk on fire")
        return [item * 10 for item in batch]


async def test_writes_arriving_together_are_flushed_as_one_batch() -> None:
    recorder = _Recorder()
    committer = GroupCommitter(recorder.flush, window_s=0.005)
    results = await asyncio.gather(*(committer.submit(i) for i in range(50)))
    await committer.close()
    assert results == [i * 10 for i in range(50)]
    assert recorder.batches == [list(range(50))]


async def test_batches_are_capped_at_max_batch_in_submission_order() -> None:
    recorder = _Recorder()
    committer = GroupCommitter(recorder.flush, window_s=0.001, max_batch=4)
    await asyncio.gather(*(committer.submit(i) for i in range(10)))
    await committer.close()
    assert [item for batch in recorder.batches for item in batch] == list(range(10))
    assert max(len(batch) for batch in recorder.batches) == 4


async def test_a_failed_flush_fails_every_caller_in_the_batch_with_a_store_error() -> None:
    committer = GroupCommitter(_Recorder(fail=True).flush, window_s=0.001)
    results = await asyncio.gather(*(committer.submit(i) for i in range(3)), return_exceptions=True)
    await committer.close()
    assert all(isinstance(r, StoreError) and "disk on fire" in str(r) for r in results)


async def test_a_closed_committer_refuses_new_writes() -> None:
    committer = GroupCommitter(_Recorder().flush, window_s=0)
    assert await committer.submit(1) == 10
    await committer.close()
    with pytest.raises(StoreError, match="closed"):
        await committer.submit(2)


async def test_a_write_after_a_quiet_window_is_flushed_without_waiting_for_it() -> None:
    recorder = _Recorder()
    committer = GroupCommitter(recorder.flush, window_s=5.0)
    async with asyncio.timeout(1):  # far less than the window
        assert await committer.submit(1) == 10
    await committer.close()


async def test_a_write_soon_after_a_flush_waits_the_window_for_company() -> None:
    recorder = _Recorder()
    window = 0.05
    committer = GroupCommitter(recorder.flush, window_s=window)
    loop = asyncio.get_running_loop()
    await committer.submit(0)  # commits at once: the committer was idle
    started = loop.time()
    second = committer.submit(1)  # right after a flush: the batch stays open for the window
    third = committer.submit(2)
    assert list(await asyncio.gather(second, third)) == [10, 20]
    assert loop.time() - started >= window * 0.9
    await committer.close()
    assert recorder.batches == [[0], [1, 2]]
