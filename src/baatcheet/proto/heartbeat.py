"""Engine.IO v4 heartbeat timing as data: the caller owns the clock and the timers.

In Engine.IO v4 (spec: "Heartbeat") the server sends a ``PING`` every ``pingInterval`` and the
client must answer with a ``PONG`` within ``pingTimeout``; otherwise the server closes the
session with reason ``"ping timeout"``. Other packets from the client do not count as a pong.

The engine drives this object: it passes ``now`` (monotonic seconds) to every call, sleeps
until :meth:`Heartbeat.next_deadline`, then asks :meth:`Heartbeat.timed_out` and
:meth:`Heartbeat.ping_due` what to do.

:class:`PingWatchdog` is the client's half: the server has gone quiet (or the path to it
died) once no PING came for ``pingInterval + pingTimeout``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Heartbeat", "PingWatchdog"]


@dataclass(slots=True)
class Heartbeat:
    """Ping schedule and pong deadline of one Engine.IO session.

    Pings keep a steady cadence: the next one is due ``ping_interval`` after the previous
    ping was sent (or after :meth:`start`), and no new ping is due while one is unanswered.

    Attributes:
        ping_interval: Seconds between pings (the handshake's ``pingInterval`` / 1000).
        ping_timeout: Seconds the client has to answer a ping (``pingTimeout`` / 1000).
    """

    ping_interval: float
    ping_timeout: float
    _anchor: float | None = field(default=None, init=False, repr=False)
    _awaiting_pong: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        """Refuse intervals that would ping in a busy loop or time out at once."""
        if not self.ping_interval > 0:
            raise ValueError(f"ping_interval must be positive, not {self.ping_interval}")
        if not self.ping_timeout > 0:
            raise ValueError(f"ping_timeout must be positive, not {self.ping_timeout}")

    def start(self, now: float) -> None:
        """Begin timing at the handshake; the first ping is due ``ping_interval`` later."""
        self._anchor = now
        self._awaiting_pong = False

    def ping_due(self, now: float) -> bool:
        """Whether the caller should send a ``PING`` now and then call :meth:`ping_sent`."""
        anchor = self._anchor
        if anchor is None:
            raise _not_started()
        return not self._awaiting_pong and now >= anchor + self.ping_interval

    def ping_sent(self, now: float) -> None:
        """Record that a ``PING`` left at ``now``; the pong deadline runs from here."""
        if self._anchor is None:
            raise _not_started()
        self._anchor = now
        self._awaiting_pong = True

    def pong_received(self, now: float) -> None:
        """Record a ``PONG``; one that answers no ping changes nothing.

        A pong that arrives after the deadline still clears it: the caller should have
        closed the session when :meth:`timed_out` said so.
        """
        if self._anchor is None:
            raise _not_started()
        self._awaiting_pong = False

    def timed_out(self, now: float) -> bool:
        """Whether a ping went unanswered for ``ping_timeout``: close with "ping timeout"."""
        anchor = self._anchor
        if anchor is None:
            raise _not_started()
        return self._awaiting_pong and now >= anchor + self.ping_timeout

    def next_deadline(self) -> float:
        """The earliest time at which :meth:`ping_due` or :meth:`timed_out` can change."""
        anchor = self._anchor
        if anchor is None:
            raise _not_started()
        if self._awaiting_pong:
            return anchor + self.ping_timeout
        return anchor + self.ping_interval


def _not_started() -> ValueError:
    # Checked inline in each method rather than in a shared helper: these run twice per
    # ping of every idle connection, and a call costs more than the comparison.
    return ValueError("call Heartbeat.start(now) before using the heartbeat")


@dataclass(slots=True)
class PingWatchdog:
    """When a client should give up on a server that stopped pinging.

    Each PING pushes :attr:`deadline` to ``ping_interval + ping_timeout`` later. The caller
    keeps one timer: when it fires, :meth:`expired` says whether to close ("ping timeout")
    or to sleep again until the moved :attr:`deadline` — so a PING costs no new timer.

    Attributes:
        ping_interval: The handshake's ``pingInterval`` in seconds.
        ping_timeout: The handshake's ``pingTimeout`` in seconds.
        deadline: When the connection counts as dead unless a PING comes (caller's clock).
    """

    ping_interval: float
    ping_timeout: float
    deadline: float = field(default=float("inf"), init=False)

    @property
    def limit(self) -> float:
        """Seconds of silence after which the server counts as gone."""
        return self.ping_interval + self.ping_timeout

    def ping_received(self, now: float) -> None:
        """A PING arrived (or the session opened, which starts the first wait)."""
        self.deadline = now + self.ping_interval + self.ping_timeout

    def expired(self, now: float) -> bool:
        """Whether the server stayed silent past :attr:`deadline`."""
        return now >= self.deadline
