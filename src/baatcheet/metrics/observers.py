"""One observer per layer, each counting into plain attributes and rendering at scrape.

Each class here satisfies one layer's observer protocol by its shape (the layers are
never imported: ``metrics`` sits beside them, and the server hands these objects down).
Every callback is an addition or two on the event loop's thread; nothing is formatted,
locked or allocated until Prometheus scrapes (:meth:`collect`).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from baatcheet.metrics.histogram import Histogram

__all__ = [
    "ChatMetrics",
    "ClusterMetrics",
    "CommitMetrics",
    "EngineMetrics",
    "ListenerMetrics",
    "LoopMetrics",
    "ServerMetrics",
]

_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_FANOUT = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
_BATCH = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

Key = tuple[str, ...]


def _bump(counts: dict[Key, int], key: Key, by: int = 1) -> None:
    counts[key] = counts.get(key, 0) + by


def _counter(name: str, doc: str, labels: list[str], counts: dict[Key, int]) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(counts.items()):
        family.add_metric(list(key), value)
    return family


def _gauge(name: str, doc: str, labels: list[str], values: dict[Key, int]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


class ListenerMetrics:
    """TCP connections and write-buffer pauses (a ``ListenerObserver``)."""

    __slots__ = ("closed", "opened", "write_pauses")

    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0
        self.write_pauses = 0

    def connection_opened(self) -> None:
        self.opened += 1

    def connection_closed(self) -> None:
        self.closed += 1

    def write_paused(self) -> None:
        self.write_pauses += 1

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "baatcheet_http_connections",
            "Client TCP connections open (HTTP and upgraded WebSocket).",
            value=self.opened - self.closed,
        )
        yield CounterMetricFamily(
            "baatcheet_http_connections_accepted",
            "Client TCP connections accepted.",
            value=self.opened,
        )
        yield CounterMetricFamily(
            "baatcheet_write_buffer_pauses",
            "Times a connection's write buffer filled up (its client reads slower than we write).",
            value=self.write_pauses,
        )


class EngineMetrics:
    """Engine.IO sessions: handshakes, transports, closes (an ``EngineObserver``)."""

    __slots__ = ("closes", "handshakes", "open", "upgrades")

    def __init__(self) -> None:
        self.handshakes: dict[Key, int] = {}
        self.open: dict[Key, int] = {("polling",): 0, ("websocket",): 0}
        self.upgrades = 0
        self.closes: dict[Key, int] = {}

    def handshake(self, transport: str, outcome: str) -> None:
        _bump(self.handshakes, (str(transport), str(outcome)))
        if outcome == "accepted":
            _bump(self.open, (str(transport),))

    def upgraded(self) -> None:
        self.upgrades += 1
        _bump(self.open, ("polling",), -1)
        _bump(self.open, ("websocket",))

    def session_closed(self, transport: str, reason: str) -> None:
        _bump(self.open, (str(transport),), -1)
        _bump(self.closes, (str(reason),))

    def collect(self) -> Iterator[Metric]:
        yield _gauge(
            "baatcheet_connections",
            "Engine.IO connections open, by transport.",
            ["transport"],
            self.open,
        )
        yield _counter(
            "baatcheet_handshakes",
            "Engine.IO handshakes answered, by transport and outcome (accepted, forbidden,"
            " draining, bad_request).",
            ["transport", "outcome"],
            self.handshakes,
        )
        yield CounterMetricFamily(
            "baatcheet_upgrades",
            "Engine.IO connections upgraded from long-polling to WebSocket.",
            value=self.upgrades,
        )
        yield _counter(
            "baatcheet_disconnects",
            "Engine.IO connections closed, by reason.",
            ["reason"],
            self.closes,
        )
        yield CounterMetricFamily(
            "baatcheet_slow_consumer_disconnects",
            "Connections closed because their write buffer passed write_buffer_max_bytes"
            " (or write_buffer_high_bytes under the 'disconnect' policy).",
            value=self.closes.get(("slow consumer",), 0),
        )


class ServerMetrics:
    """Socket.IO traffic, broadcasts, acks and namespaces (a ``ServerObserver``)."""

    __slots__ = (
        "ack_round_trip_s",
        "bytes_in",
        "bytes_out",
        "connects",
        "disconnects",
        "fanout",
        "packets_in",
        "packets_out",
        "refusals",
        "sockets",
    )

    def __init__(self) -> None:
        self.packets_in = 0
        self.bytes_in = 0
        self.packets_out = 0
        self.bytes_out = 0
        self.fanout = Histogram(_FANOUT)
        self.ack_round_trip_s = Histogram(_SECONDS)
        self.sockets: dict[Key, int] = {}
        self.connects: dict[Key, int] = {}
        self.refusals: dict[Key, int] = {}
        self.disconnects: dict[Key, int] = {}

    def packet_in(self, size: int) -> None:
        self.packets_in += 1
        self.bytes_in += size

    def packet_out(self, size: int) -> None:
        self.packets_out += 1
        self.bytes_out += size

    def broadcast(self, namespace: str, fanout: int, size: int) -> None:
        del namespace
        self.packets_out += fanout
        self.bytes_out += fanout * size
        self.fanout.observe(fanout)

    def ack_round_trip(self, namespace: str, seconds: float) -> None:
        del namespace
        self.ack_round_trip_s.observe(seconds)

    def namespace_connected(self, namespace: str) -> None:
        _bump(self.sockets, (namespace,))
        _bump(self.connects, (namespace,))

    def namespace_refused(self, namespace: str) -> None:
        _bump(self.refusals, (namespace,))

    def namespace_disconnected(self, namespace: str, reason: str) -> None:
        _bump(self.sockets, (namespace,), -1)
        _bump(self.disconnects, (namespace, reason))

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "baatcheet_packets_received",
            "Engine.IO messages received from clients (packets and binary attachments).",
            value=self.packets_in,
        )
        yield CounterMetricFamily(
            "baatcheet_received_bytes",
            "Size of the messages received (characters of text, bytes of binary).",
            value=self.bytes_in,
        )
        yield CounterMetricFamily(
            "baatcheet_packets_sent",
            "Packets written to clients; a broadcast counts once per recipient.",
            value=self.packets_out,
        )
        yield CounterMetricFamily(
            "baatcheet_sent_bytes",
            "WebSocket frame bytes of the packets sent.",
            value=self.bytes_out,
        )
        fanout = HistogramMetricFamily(
            "baatcheet_broadcast_fanout",
            "Local recipients of each broadcast (one observation per broadcast).",
        )
        self.fanout.add_to(fanout)
        yield fanout
        acks = HistogramMetricFamily(
            "baatcheet_ack_round_trip_seconds",
            "From an event the server sent with an ack request to the client's answer.",
        )
        self.ack_round_trip_s.add_to(acks)
        yield acks
        yield _gauge(
            "baatcheet_sockets",
            "Sockets connected, by namespace (a dynamic namespace's family counts as one).",
            ["namespace"],
            self.sockets,
        )
        yield _counter(
            "baatcheet_namespace_connects",
            "Sockets admitted to a namespace.",
            ["namespace"],
            self.connects,
        )
        yield _counter(
            "baatcheet_namespace_refusals",
            "Namespace connections refused (connect_error), by namespace.",
            ["namespace"],
            self.refusals,
        )
        yield _counter(
            "baatcheet_namespace_disconnects",
            "Sockets that left a namespace, by namespace and Socket.IO reason.",
            ["namespace", "reason"],
            self.disconnects,
        )


class LoopMetrics:
    """Event-loop lag, as measured by :class:`~baatcheet.metrics.loop_lag.LoopLagMonitor`."""

    __slots__ = ("lag", "last")

    def __init__(self) -> None:
        self.lag = Histogram(_SECONDS)
        self.last = 0.0

    def report(self, seconds: float) -> None:
        self.last = seconds
        self.lag.observe(seconds)

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "baatcheet_event_loop_lag_seconds",
            "How late the periodic lag timer ran: time the loop was busy when it was due.",
        )
        self.lag.add_to(family)
        yield family
        yield GaugeMetricFamily(
            "baatcheet_event_loop_lag_last_seconds",
            "The most recent event-loop lag measurement.",
            value=self.last,
        )


class CommitMetrics:
    """Group commits: batch sizes, commit latency, failures (a ``CommitObserver``)."""

    __slots__ = ("failures", "seconds", "sizes")

    def __init__(self) -> None:
        self.sizes: dict[str, Histogram] = {}
        self.seconds: dict[str, Histogram] = {}
        self.failures: dict[Key, int] = {}

    def batch_committed(self, name: str, size: int, seconds: float, ok: bool) -> None:
        sizes = self.sizes.get(name)
        if sizes is None:
            sizes = self.sizes[name] = Histogram(_BATCH)
            self.seconds[name] = Histogram(_SECONDS)
        sizes.observe(size)
        self.seconds[name].observe(seconds)
        if not ok:
            _bump(self.failures, (name,))

    def collect(self) -> Iterator[Metric]:
        sizes = HistogramMetricFamily(
            "baatcheet_group_commit_batch_size",
            "Writes per group-commit transaction, by writer (messages, receipts).",
            labels=["writer"],
        )
        seconds = HistogramMetricFamily(
            "baatcheet_group_commit_seconds",
            "Time to commit one group-commit batch, by writer.",
            labels=["writer"],
        )
        for name in sorted(self.sizes):
            self.sizes[name].add_to(sizes, [name])
            self.seconds[name].add_to(seconds, [name])
        yield sizes
        yield seconds
        yield _counter(
            "baatcheet_group_commit_failures",
            "Group-commit batches that failed (every write in them was refused).",
            ["writer"],
            self.failures,
        )


class ChatMetrics:
    """Chat messages accepted and refused (a ``ChatObserver``)."""

    __slots__ = ("accepted", "refused")

    def __init__(self) -> None:
        self.accepted = 0
        self.refused: dict[Key, int] = {}

    def message_accepted(self) -> None:
        self.accepted += 1

    def message_refused(self, reason: str) -> None:
        _bump(self.refused, (reason,))

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "baatcheet_chat_messages_accepted",
            "Chat messages stored and acknowledged (retries of a stored message included).",
            value=self.accepted,
        )
        yield _counter(
            "baatcheet_chat_messages_refused",
            "Chat messages refused, by error code (invalid, too_long, not_found, forbidden,"
            " rate_limited, unavailable...).",
            ["reason"],
            self.refused,
        )


class ClusterMetrics:
    """The Redis broker: publish latency, outages, reconnections (a ``ClusterObserver``)."""

    __slots__ = ("lost", "messages", "publish_s", "reconnects", "up")

    def __init__(self) -> None:
        self.publish_s = Histogram(_SECONDS)
        self.messages = 0
        self.reconnects = 0
        self.lost = 0
        self.up: bool | None = None
        """None until the broker first reports (no Redis configured, or not yet up)."""

    def published(self, messages: int, seconds: float) -> None:
        self.messages += messages
        self.publish_s.observe(seconds)

    def connected(self, first: bool) -> None:
        self.up = True
        if not first:
            self.reconnects += 1

    def disconnected(self) -> None:
        self.up = False
        self.lost += 1

    def collect(self) -> Iterator[Metric]:
        if self.up is None:
            return
        family = HistogramMetricFamily(
            "baatcheet_redis_publish_seconds",
            "Round trip of one publish to Redis (a pipelined batch counts once).",
        )
        self.publish_s.add_to(family)
        yield family
        yield CounterMetricFamily(
            "baatcheet_redis_published_messages",
            "Cluster messages published to Redis.",
            value=self.messages,
        )
        yield CounterMetricFamily(
            "baatcheet_redis_reconnects",
            "Times the broker got Redis back after losing it.",
            value=self.reconnects,
        )
        yield CounterMetricFamily(
            "baatcheet_redis_outages",
            "Times the broker lost Redis.",
            value=self.lost,
        )
        yield GaugeMetricFamily(
            "baatcheet_redis_up",
            "1 while the broker reaches Redis with every subscription in place.",
            value=1 if self.up else 0,
        )
