"""``server_stats``: this node's identity, counts, and the traffic since the last report.

Nothing is counted here: the aggregated events are differences between two readings of
the node's metrics (engine handshakes and closes, Socket.IO packets and bytes), so the
admin UI adds no work per packet. With ``settings.metrics`` off the UI gets the counts
and namespaces but no aggregated events.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from baatcheet.metrics import Metrics

__all__ = ["StatsSampler", "Totals"]

Totals = dict[tuple[str, str | None], int]
"""Cumulative counts by (aggregated event type, sub-type)."""


def read_totals(metrics: Metrics) -> Totals:
    """The cumulative counts behind admin-ui's aggregated event types."""
    engine, server = metrics.engine, metrics.server
    totals: Totals = {
        ("rawConnection", None): sum(
            count for (_, outcome), count in engine.handshakes.items() if outcome == "accepted"
        ),
        ("packetsIn", None): server.packets_in,
        ("packetsOut", None): server.packets_out,
        ("bytesIn", None): server.bytes_in,
        ("bytesOut", None): server.bytes_out,
    }
    for (reason,), count in engine.closes.items():
        totals[("rawDisconnection", reason)] = count
    return totals


class StatsSampler:
    """Builds each ``server_stats`` payload.

    Args:
        server_id: How the UI names this node (several nodes share one UI); the host
            name by default.
        metrics: The node's counters, or None when metrics are off.
        clients: Engine.IO sessions open now, as (all, polling).
        namespaces: Each local namespace's name and number of local sockets.
        clock: Wall clock in seconds (for the events' timestamps).
    """

    def __init__(
        self,
        server_id: Callable[[], str] | None,
        metrics: Metrics | None,
        clients: Callable[[], tuple[int, int]],
        namespaces: Callable[[], list[tuple[str, int]]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        hostname = socket.gethostname()
        self._server_id = server_id or (lambda: hostname)
        self._base = {"hostname": hostname, "pid": os.getpid()}
        self._metrics = metrics
        self._clients = clients
        self._namespaces = namespaces
        self._clock = clock
        self._started = time.monotonic()
        self._last: Totals = read_totals(metrics) if metrics is not None else {}

    def _aggregated_events(self) -> list[dict[str, Any]]:
        if self._metrics is None:
            return []
        totals = read_totals(self._metrics)
        timestamp = math.floor(self._clock()) * 1000
        events: list[dict[str, Any]] = []
        for (kind, sub_type), total in totals.items():
            count = total - self._last.get((kind, sub_type), 0)
            if count > 0:
                event: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": count}
                if sub_type is not None:
                    event["subType"] = sub_type
                events.append(event)
        self._last = totals
        return events

    def sample(self) -> dict[str, Any]:
        """The next ``server_stats`` payload (the aggregated events since the last one)."""
        clients, polling = self._clients()
        return {
            "serverId": self._server_id(),
            **self._base,
            "uptime": time.monotonic() - self._started,
            "clientsCount": clients,
            "pollingClientsCount": polling,
            "aggregatedEvents": self._aggregated_events(),
            "namespaces": [
                {"name": name, "socketsCount": count} for name, count in self._namespaces()
            ],
        }
