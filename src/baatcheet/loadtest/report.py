"""The side-by-side table of one ``baatcheet bench`` run, and the JSON record it is saved in.

A run's results are columns (one per server) of phases (one JSON object each, merged from
the generators, or ``{"error": ...}`` when the server could not be measured, or
``{"skipped": ...}`` when the server does not offer what the phase needs, shown as "—").
The table has one row per metric and a ratio of each later column to the first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CHAT_METRICS",
    "CLUSTER_METRICS",
    "FANOUT_METRICS",
    "IDLE_CHAT_METRICS",
    "STORM_METRICS",
    "Metric",
    "render",
    "save",
]


@dataclass(frozen=True)
class Metric:
    """One table row: where its number lives in the phase JSON and how to show it.

    ``path`` holds keys of objects and indexes of lists (one per server of a cluster).
    """

    label: str
    phase: str
    path: tuple[str | int, ...]
    digits: int = 0


FANOUT_METRICS: tuple[Metric, ...] = (
    Metric("max deliveries/s at p99 < 200 ms", "fanout", ("max_deliveries_per_s",)),
    Metric("deliveries/server CPU-s @ fixed", "fanout", ("fixed", "deliveries_per_server_cpu_s")),
    Metric("p50 latency @ fixed (ms)", "fanout", ("fixed", "p50_ms"), 2),
    Metric("p99 latency @ fixed (ms)", "fanout", ("fixed", "p99_ms"), 2),
    Metric("max latency @ fixed (ms)", "fanout", ("fixed", "max_ms"), 2),
    Metric("undelivered 2 s after fixed phase", "fanout", ("fixed", "undelivered_after_drain")),
    Metric("deliveries never received (whole run)", "fanout", ("lost_whole_run",)),
    Metric("RSS per idle connection (KB)", "idle", ("kb_per_connection",), 2),
    Metric("idle server CPU (% of one core)", "idle", ("cpu_percent_of_core",), 2),
    Metric("idle connections still open", "idle", ("still_connected",)),
    Metric("generator peak core share", "fanout", ("generator_core_share_max",), 2),
    Metric("ramp stopped by generator (1 = yes)", "fanout", ("ramp_stopped_by_generator",)),
    Metric("other processes' cores @ fixed (noise)", "fanout", ("fixed", "foreign_core_share"), 2),
)

CHAT_METRICS: tuple[Metric, ...] = (
    Metric("max acked msg/s at ack p99 < 200 ms", "chat", ("max_acked_per_s",)),
    Metric("ack p50 @ fixed (ms)", "chat", ("fixed", "p50_ms"), 2),
    Metric("ack p99 @ fixed (ms)", "chat", ("fixed", "p99_ms"), 2),
    Metric("deliveries/s @ fixed", "chat", ("fixed", "deliveries_per_s")),
    Metric("delivery p99 @ fixed (ms)", "chat", ("fixed", "delivery_latency", "p99_ms"), 2),
    Metric("messages per server CPU-s @ fixed", "chat", ("fixed", "messages_per_server_cpu_s")),
    Metric("unanswered 2 s after fixed phase", "chat", ("fixed", "unanswered")),
    Metric("sends never acked (whole run)", "chat", ("unanswered_whole_run",)),
    Metric("acked messages missing from DB", "chat", ("durability", "lost")),
    Metric("ack p90 @ fixed (ms)", "chat", ("fixed", "p90_ms"), 2),
    Metric("generator core share @ fixed", "chat", ("fixed", "generator_core_share"), 2),
    Metric("other processes' cores @ fixed (noise)", "chat", ("fixed", "foreign_core_share"), 2),
)

STORM_METRICS: tuple[Metric, ...] = (
    Metric("connects/s while ramping (overall)", "storm", ("connects_per_s",)),
    Metric("connects/s, peak 1-s", "storm", ("peak_connects_per_s",)),
    Metric("connections open after ramp", "storm", ("connected",)),
    Metric("failed connect attempts", "storm", ("connect_failures",)),
    Metric("server CPU share during ramp (cores)", "storm", ("server_cpu_share_ramp",), 2),
    Metric("connect p50 (ms)", "storm", ("connect_latency", "p50_ms"), 2),
    Metric("connect p99 (ms)", "storm", ("connect_latency", "p99_ms"), 2),
    Metric("restart → all re-joined (s)", "storm", ("restart_to_rejoined_s",), 2),
    Metric("clients re-joined after restart", "storm", ("rejoined",)),
    Metric("of clients kept for the restart", "storm", ("restart_clients",)),
    Metric("generator core share, ramp", "storm", ("generator_core_share",), 2),
)

IDLE_CHAT_METRICS: tuple[Metric, ...] = (
    Metric("/chat connections open (JWT)", "idle-chat", ("still_connected",)),
    Metric("server CPU while idle (% of one core)", "idle-chat", ("cpu_percent_of_core",), 2),
    Metric("RSS per connection (KB)", "idle-chat", ("kb_per_connection",), 2),
    Metric("seconds held idle", "idle-chat", ("hold_secs",)),
    Metric("failed connect attempts", "idle-chat", ("connect_failures",)),
)

_US = "server_cpu_us_per_publish_each"
_FIRST, _SECOND = 0, 1

CLUSTER_METRICS: tuple[Metric, ...] = (
    Metric(
        "2 nodes, 1000 clients: max deliveries/s p99<200ms", "cluster", ("max_deliveries_per_s",)
    ),
    Metric(
        "2 nodes: deliveries/server CPU-s @ fixed",
        "cluster",
        ("fixed", "deliveries_per_server_cpu_s"),
    ),
    Metric("2 nodes: p50 latency @ fixed (ms)", "cluster", ("fixed", "p50_ms"), 2),
    Metric("2 nodes: p99 latency @ fixed (ms)", "cluster", ("fixed", "p99_ms"), 2),
    Metric("2 nodes: max latency @ fixed (ms)", "cluster", ("fixed", "max_ms"), 2),
    Metric("2 nodes: undelivered 2 s after fixed", "cluster", ("fixed", "undelivered_after_drain")),
    Metric("2 nodes: never received (whole run)", "cluster", ("lost_whole_run",)),
    Metric("µs CPU/broadcast, 500 local, no cluster", "local", ("fixed", _US, _FIRST), 1),
    Metric("µs CPU/broadcast, 500 local, publishing node", "cluster", ("fixed", _US, _FIRST), 1),
    Metric("µs CPU/broadcast, 500 local, receiving node", "cluster", ("fixed", _US, _SECOND), 1),
    Metric("µs CPU/broadcast, 1 local, no cluster", "cost-local", ("fixed", _US, _FIRST), 1),
    Metric("µs CPU/broadcast, 1 local, publishing node", "cost-cluster", ("fixed", _US, _FIRST), 1),
    Metric("µs CPU/broadcast, 1 local, receiving node", "cost-cluster", ("fixed", _US, _SECOND), 1),
    Metric("100 rooms: deliveries/server CPU-s", "rooms", ("fixed", "deliveries_per_server_cpu_s")),
    Metric("100 rooms: p99 latency (ms)", "rooms", ("fixed", "p99_ms"), 2),
    Metric(
        "100 rooms: msg/s from Redis, first node",
        "rooms",
        ("fixed", "cluster_messages_per_s_each", _FIRST),
    ),
    Metric("100 rooms: undelivered 2 s after fixed", "rooms", ("fixed", "undelivered_after_drain")),
    Metric(
        "busy room: msg/s from Redis, quiet node",
        "quiet",
        ("fixed", "cluster_messages_per_s_each", _SECOND),
    ),
    Metric(
        "busy room: bytes/s from Redis, quiet node",
        "quiet",
        ("fixed", "cluster_bytes_per_s_each", _SECOND),
    ),
    Metric(
        "busy room: cores used, quiet node", "quiet", ("fixed", "server_cores_each", _SECOND), 3
    ),
    Metric("busy room: cores used, busy node", "quiet", ("fixed", "server_cores_each", _FIRST), 3),
    Metric("busy room: p99 latency (ms)", "quiet", ("fixed", "p99_ms"), 2),
    Metric("redis-server CPU-s, 2-node fan-out fixed", "cluster", ("fixed", "aux_cpu_s"), 2),
    Metric("generator peak core share", "cluster", ("generator_core_share_max",), 2),
    Metric("other processes' cores @ fixed (noise)", "cluster", ("fixed", "foreign_core_share"), 2),
)

_METRICS = {
    "fanout": FANOUT_METRICS,
    "chat": CHAT_METRICS,
    "cluster": CLUSTER_METRICS,
    "storm": STORM_METRICS,
    "idle-chat": IDLE_CHAT_METRICS,
}
_SKIPPED = "—"


def _skipped(column: dict[str, object], metric: Metric) -> bool:
    phase = column.get(metric.phase)
    return isinstance(phase, dict) and "skipped" in phase


def _lookup(column: dict[str, object], metric: Metric) -> float | None:
    node: object = column.get(metric.phase)
    for key in metric.path:
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return None
            node = node[key]
        elif isinstance(node, dict):
            node = node.get(key)
        else:
            return None
    if isinstance(node, bool):
        return float(node)
    if not isinstance(node, int | float):
        return None
    return float(node)


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _fixed_phase(scenario: str, columns: list[dict[str, object]]) -> str:
    """Describes the fixed-rate phase from the first column that ran it."""
    unit = "msg/s" if scenario == "chat" else "deliveries/s"
    for column in columns:
        phase = column.get(scenario)
        fixed = phase.get("fixed") if isinstance(phase, dict) else None
        if isinstance(fixed, dict):
            return f"fixed = {fixed.get('target_per_s'):,} {unit} for {fixed.get('secs')} s"
    return ""


def _cluster_phases(columns: list[dict[str, object]]) -> list[str]:
    """Describes the loads of the cluster scenario from the first column that ran them."""
    lines = []
    for phase, text in (
        ("local", "500 local: {rate:,} deliveries/s to 500 clients of one node, alone"),
        ("cost-local", "1 local: {rate:,} broadcasts/s to 1 client per node"),
        ("rooms", "100 rooms: {rooms} rooms × {per_room}, each on one node, {rate:,} broadcasts/s"),
        (
            "quiet",
            "busy room: {per_room} clients on the first node, {rate:,} broadcasts/s;"
            " the quiet node has {idle} clients in no room",
        ),
    ):
        for column in columns:
            entry = column.get(phase)
            fixed = entry.get("fixed") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not isinstance(fixed, dict):
                continue
            rate = fixed.get("publish_rate") or fixed.get("target_per_s")
            lines.append(
                text.format(
                    rate=rate,
                    rooms=entry.get("rooms"),
                    per_room=entry.get("per_room"),
                    idle=entry.get("idle_clients_per_server"),
                )
            )
            break
    return lines


def _ratio(value: float | None, first: float | None) -> str:
    if not first or value is None:
        return "n/a"
    return f"{value / first:.2f}×"


def render(scenario: str, columns: list[dict[str, object]]) -> str:
    """The table: one row per metric, one column per server, then ratios to the first.

    With two servers, one ``ratio`` column (second ÷ first); with more, one per later
    server, headed ``<label> ÷ <first>``.
    """
    labels = [str(c["label"]) for c in columns]
    ratio_headers = ["ratio"]
    if len(labels) > 2:
        ratio_headers = [f"{label} ÷ {labels[0]}" for label in labels[1:]]
    header = ["metric", *labels, *ratio_headers]
    rows: list[list[str]] = []
    for metric in _METRICS[scenario]:
        values = [_lookup(c, metric) for c in columns]
        if len(values) > 2:
            ratios = [_ratio(value, values[0]) for value in values[1:]]
        else:
            ratios = [_ratio(values[-1], values[0]) if len(values) > 1 else "n/a"]
        cells = [
            _SKIPPED if _skipped(c, metric) else _fmt(v, metric.digits)
            for c, v in zip(columns, values, strict=True)
        ]
        rows.append([metric.label, *cells, *ratios])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    if len(labels) == 2:
        lines.append(f"ratio = {labels[-1]} ÷ {labels[0]}")
    fixed = _fixed_phase(scenario, columns) if scenario in ("fanout", "chat", "cluster") else ""
    if fixed:
        lines.append(f"2 nodes: {fixed}" if scenario == "cluster" else fixed)
    if scenario == "cluster":
        lines.extend(_cluster_phases(columns))
    for column in columns:
        for phase, entry in column.items():
            if isinstance(entry, dict) and "error" in entry:
                lines.append(f"! {column['label']} {phase}: {entry['error']}")
            elif isinstance(entry, dict) and "skipped" in entry:
                lines.append(f"{_SKIPPED} {column['label']} {phase}: {entry['skipped']}")
    return "\n".join(lines)


def save(
    path: Path, scenario: str, columns: list[dict[str, object]], table: str, **extra: object
) -> None:
    """Writes the run's record: scenario, columns (every phase's numbers), table, ``extra``."""
    record = {"scenario": scenario, **extra, "columns": columns, "table": table}
    path.write_text(json.dumps(record, indent=2) + "\n")
