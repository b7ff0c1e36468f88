"""server_stats payloads: counts, namespaces, and traffic since the last report."""

from __future__ import annotations

from baatcheet.admin.stats import StatsSampler
from baatcheet.metrics import Metrics


def test_aggregated_events_are_the_traffic_since_the_previous_sample() -> None:
    metrics = Metrics()
    sampler = StatsSampler(
        lambda: "node-1",
        metrics,
        lambda: (3, 1),
        lambda: [("/", 2), ("/admin", 1)],
        clock=lambda: 12.7,
    )
    metrics.engine.handshake("polling", "accepted")
    metrics.server.packet_in(10)
    metrics.server.broadcast("/", 4, 5)
    metrics.engine.session_closed("polling", "transport close")
    stats = sampler.sample()
    assert stats["serverId"] == "node-1"
    assert (stats["clientsCount"], stats["pollingClientsCount"]) == (3, 1)
    assert stats["namespaces"] == [
        {"name": "/", "socketsCount": 2},
        {"name": "/admin", "socketsCount": 1},
    ]
    events = {(e["type"], e.get("subType")): e["count"] for e in stats["aggregatedEvents"]}
    assert events == {
        ("rawConnection", None): 1,
        ("rawDisconnection", "transport close"): 1,
        ("packetsIn", None): 1,
        ("bytesIn", None): 10,
        ("packetsOut", None): 4,
        ("bytesOut", None): 20,
    }
    assert {e["timestamp"] for e in stats["aggregatedEvents"]} == {12_000}
    assert sampler.sample()["aggregatedEvents"] == []


def test_without_metrics_there_are_no_aggregated_events() -> None:
    sampler = StatsSampler(None, None, lambda: (0, 0), lambda: [])
    stats = sampler.sample()
    assert stats["aggregatedEvents"] == [] and stats["serverId"] == stats["hostname"]
