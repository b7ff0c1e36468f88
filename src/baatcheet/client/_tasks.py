"""Background tasks of the client (transport closes, async handlers, reconnection).

asyncio keeps only weak references to tasks, so one module-level set holds each until it
finishes; a task whose owner object was dropped still runs to its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["spawn"]

_running: set[asyncio.Task[Any]] = set()


def spawn(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run ``coroutine`` in the background and keep it alive until it is done."""
    task = asyncio.create_task(coroutine)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
