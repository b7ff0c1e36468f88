"""What a cluster broker tells an observer: publish latency, losing and regaining Redis.

The Redis broker calls a :class:`ClusterObserver` once per publish round trip (a pipelined
batch counts once) and at each change of its link to Redis. :data:`NO_CLUSTER_OBSERVER`
does nothing. Calls come from the event loop's thread; an observer must not block or raise.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = ["NO_CLUSTER_OBSERVER", "ClusterObserver"]


class ClusterObserver(Protocol):
    """Callbacks from a cluster broker."""

    def published(self, messages: int, seconds: float) -> None:
        """``messages`` cluster messages reached Redis in one round trip of ``seconds``."""

    def connected(self, first: bool) -> None:
        """Redis is reachable and every subscription is in place (``first``: at start-up)."""

    def disconnected(self) -> None:
        """Redis was lost; the broker is reconnecting."""


class _NoClusterObserver:
    __slots__ = ()

    def published(self, messages: int, seconds: float) -> None:
        del messages, seconds

    def connected(self, first: bool) -> None:
        del first

    def disconnected(self) -> None:
        return None


NO_CLUSTER_OBSERVER: Final[ClusterObserver] = _NoClusterObserver()
"""The observer that observes nothing (the broker's default)."""
