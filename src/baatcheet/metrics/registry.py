"""Everything one node measures, and the ``/metrics`` text Prometheus scrapes.

A :class:`Metrics` holds one observer per layer (see :mod:`baatcheet.metrics.observers`);
the server hands each to its layer (``metrics.engine`` to the Engine.IO server,
``metrics.server`` to namespaces and clients, ``metrics.commits`` to the store's group
committers, ...). Each node exposes its own numbers: Prometheus scrapes every node and
sums across them.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from baatcheet.metrics.loop_lag import LoopLagMonitor
from baatcheet.metrics.observers import (
    ChatMetrics,
    ClusterMetrics,
    CommitMetrics,
    EngineMetrics,
    ListenerMetrics,
    LoopMetrics,
    ServerMetrics,
)

__all__ = ["Metrics"]

LOOP_LAG_INTERVAL_S = 0.5
"""How often the event-loop lag is measured."""


class Metrics(Collector):
    """The counters of one node and their Prometheus registry.

    Call :meth:`start` once the event loop runs (it starts the loop-lag timer) and
    :meth:`stop` on shutdown.
    """

    def __init__(self) -> None:
        self.listener = ListenerMetrics()
        self.engine = EngineMetrics()
        self.server = ServerMetrics()
        self.loop = LoopMetrics()
        self.commits = CommitMetrics()
        self.chat = ChatMetrics()
        self.cluster = ClusterMetrics()
        self._lag = LoopLagMonitor(LOOP_LAG_INTERVAL_S, self.loop.report)
        self.registry = CollectorRegistry(auto_describe=False)
        """This node's registry: these counters plus the process's CPU, memory and files."""
        self.registry.register(self)
        ProcessCollector(registry=self.registry)

    def start(self) -> None:
        """Start measuring the event loop's lag (idempotent)."""
        self._lag.start()

    def stop(self) -> None:
        """Stop the lag timer (idempotent)."""
        self._lag.stop()

    def collect(self) -> Iterable[Metric]:
        """Every family, rendered from the current counts (called at scrape time)."""
        for part in (
            self.listener,
            self.engine,
            self.server,
            self.loop,
            self.commits,
            self.chat,
            self.cluster,
        ):
            yield from part.collect()

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition body and its content type, in the format ``accept`` prefers.

        Prometheus's text format by default; OpenMetrics when the scraper asks for it.
        """
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
