"""Reconnection delays: exponential backoff with jitter, as socket.io-client computes them.

Sans-I/O: the caller passes the random number in, so the schedule is testable exactly.
The formula is socket.io-client's ``Backoff.duration`` (``contrib/backo2.js``): the
``n``-th delay is ``min * factor**n``, moved up or down by at most ``jitter`` of itself,
then capped at ``max``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(slots=True)
class Backoff:
    """The delay before each reconnection attempt, growing until a success resets it.

    Attributes:
        min: First delay in seconds (``reconnectionDelay``).
        max: Largest delay in seconds (``reconnectionDelayMax``).
        jitter: Largest relative deviation, 0 to 1 (``randomizationFactor``); 0 is exact.
        factor: Growth per attempt.
        attempts: Delays handed out since the last :meth:`reset`.
    """

    min: float
    max: float
    jitter: float = 0.5
    factor: float = 2.0
    attempts: int = 0

    def __post_init__(self) -> None:
        """Refuse settings that make no schedule."""
        if self.min < 0 or self.max < 0:
            raise ValueError("reconnection delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"randomization_factor must be between 0 and 1, not {self.jitter}")

    def duration(self, rand: float) -> float:
        """The next delay in seconds; counts one attempt.

        Args:
            rand: A uniform random number in ``[0, 1)``. Its value sets the size of the
                deviation and, through its first decimal, the direction (as in the JS client).
        """
        delay = self.min * self.factor**self.attempts
        self.attempts += 1
        if self.jitter:
            deviation = math.floor(rand * self.jitter * delay * 1000) / 1000
            delay = delay - deviation if math.floor(rand * 10) % 2 == 0 else delay + deviation
        return min(delay, self.max)

    def reset(self) -> None:
        """Start again from ``min`` (after a successful reconnection)."""
        self.attempts = 0
