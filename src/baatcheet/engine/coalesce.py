"""Write coalescing: one ``write`` per connection for a burst of messages.

On loopback and LAN a ``send`` system call costs far more than the bytes it carries, and
in a busy chat server the kernel time of those calls is the largest single cost. When
many handlers resume together — every message of one group commit is acknowledged and
broadcast in the same loop turn — one connection is often written several times in a
row (its own message's broadcast, then the ack for it, then a neighbour's message).
While a :class:`WriteCoalescer` holds, WebSocket writes are collected per session and
handed to the transport once, as soon as the loop has run the callbacks that were
already queued when the hold began. Outside a hold, writes go straight out, so a single
broadcast pays nothing for this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

__all__ = ["HeldWriter", "WriteCoalescer"]

log = logging.getLogger(__name__)


class HeldWriter(Protocol):
    """A connection whose held frames can be written in one go."""

    def write_held(self, frames: list[bytes]) -> None:
        """Write ``frames`` (in order) with a single transport call, unless closed."""


class WriteCoalescer:
    """Collects frames per writer during a hold; flushes them after the queued callbacks.

    ``held`` is ``None`` outside a hold, so the hot path tests one attribute.
    """

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held: dict[HeldWriter, list[bytes]] | None = None

    def hold(self) -> None:
        """Hold writes until the callbacks already on the loop's ready queue have run.

        Call it from code that resumes as one of many at once (for example, callers woken
        by the same batch commit): the first call starts the hold and schedules the flush
        behind every callback queued so far, later calls in the same burst are no-ops.
        """
        if self.held is None:
            self.held = {}
            asyncio.get_running_loop().call_soon(self.flush)

    def add(self, writer: HeldWriter, frame: bytes) -> None:
        """Queue ``frame`` for ``writer``; only valid while holding."""
        held = self.held
        assert held is not None, "add() outside a hold"
        frames = held.get(writer)
        if frames is None:
            held[writer] = [frame]
        else:
            frames.append(frame)

    def flush(self) -> None:
        """End the hold: give every writer its frames, in the order they were added."""
        held = self.held
        self.held = None
        if held:
            for writer, frames in held.items():
                try:
                    writer.write_held(frames)
                except Exception:  # one broken transport must not cost the others their frames
                    log.exception("writing %d held frames to %r failed", len(frames), writer)
