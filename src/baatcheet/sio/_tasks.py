"""Background tasks started by the Socket.IO layer (handler runs, namespace connects).

asyncio keeps only weak references to tasks, so something must hold them until they
finish; one module-level set does it for every socket, instead of a set per socket
(an empty set costs over 200 bytes on every idle connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["spawn"]

_running: set[asyncio.Future[Any]] = set()


def spawn(awaitable: Awaitable[Any]) -> asyncio.Future[Any]:
    """Run ``awaitable`` in the background and keep it alive until it is done."""
    task = asyncio.ensure_future(awaitable)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
