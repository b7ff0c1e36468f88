"""The table of a run: one row per metric, one column per server, ratios to the first."""

from __future__ import annotations

from baatcheet.loadtest.report import render


def _storm(connects: float, rejoined_s: float | None) -> dict[str, object]:
    return {
        "connects_per_s": connects,
        "peak_connects_per_s": connects * 1.5,
        "connected": 19_900,
        "connect_latency": {"p50_ms": 2.5, "p99_ms": 40.0},
        "restart_to_rejoined_s": rejoined_s,
    }


def _row(table: str, label: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(label))
    return line[len(label) :].split()


def test_storm_table_shows_each_server_and_the_ratio() -> None:
    table = render(
        "storm",
        [
            {"label": "node", "storm": _storm(2_000, 7.5)},
            {"label": "baatcheet", "storm": _storm(3_000, 6.0)},
        ],
    )
    assert _row(table, "connects/s while ramping (overall)") == ["2,000", "3,000", "1.50×"]
    assert _row(table, "restart → all re-joined (s)") == ["7.50", "6.00", "0.80×"]
    assert _row(table, "connect p99 (ms)") == ["40.00", "40.00", "1.00×"]
    assert "ratio = baatcheet ÷ node" in table


def test_a_server_without_the_phase_shows_a_dash_and_why() -> None:
    table = render(
        "idle-chat",
        [
            {"label": "node", "idle-chat": {"skipped": "node has no /chat accounts"}},
            {
                "label": "baatcheet",
                "idle-chat": {
                    "still_connected": 19_900,
                    "cpu_percent_of_core": 3.25,
                    "kb_per_connection": 21.5,
                },
            },
        ],
    )
    assert _row(table, "/chat connections open (JWT)") == ["—", "19,900", "n/a"]
    assert _row(table, "server CPU while idle (% of one core)") == ["—", "3.25", "n/a"]
    assert "— node idle-chat: node has no /chat accounts" in table


def test_chat_with_three_servers_has_one_ratio_column_per_later_server() -> None:
    def chat(acked: int) -> dict[str, object]:
        return {"max_acked_per_s": acked, "fixed": {"target_per_s": 2000, "secs": 10}}

    table = render(
        "chat",
        [
            {"label": "node", "chat": chat(4_000)},
            {"label": "baatcheet", "chat": chat(6_000)},
            {"label": "baatcheet-normal", "chat": {"error": "server did not start"}},
        ],
    )
    header = table.splitlines()[0]
    assert header.index("baatcheet ÷ node") < header.index("baatcheet-normal ÷ node")
    assert _row(table, "max acked msg/s at ack p99 < 200 ms") == [
        "4,000",
        "6,000",
        "n/a",
        "1.50×",
        "n/a",
    ]
    assert "! baatcheet-normal chat: server did not start" in table
    assert "fixed = 2,000 msg/s for 10 s" in table
