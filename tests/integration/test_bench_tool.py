"""``baatcheet bench`` pointed at a running Baatcheet server, as a user would run it.

A real fan-out app (bench/apps/fanout.py) on a loopback port, the real CLI in a
subprocess, the Node generator over real sockets: the run must print the table, and write
the JSON record and the two PNG plots with figures that show load went through.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.paths import REPO_ROOT
from support.ports import free_port, wait_for_port

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="baatcheet bench runs its load generator on Node.js",
)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def fanout_server() -> Iterator[tuple[int, int]]:
    """The fan-out benchmark app on a free port; yields (port, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "BAATCHEET_PACKET_RATE_PER_S": "1000000",
        "BAATCHEET_PACKET_BURST": "1000000",
    }
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "bench" / "apps" / "fanout.py"), str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port(port, 60), "the fan-out app did not start"
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(10)


def test_bench_measures_a_target_and_writes_table_json_and_plots(
    fanout_server: tuple[int, int], tmp_path: Path
) -> None:
    port, pid = fanout_server
    out = tmp_path / "results"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "baatcheet.cli",
            "bench",
            "fanout",
            "--quick",
            "--target",
            f"mine=ws://127.0.0.1:{port}",
            "--server-pid",
            f"mine={pid}",
            "--clients",
            "20",
            "--secs",
            "1",
            "--fixed-rate",
            "2000",
            "--quiet-secs",
            "0",
            "--no-pin",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]

    assert "deliveries/server CPU-s @ fixed" in completed.stdout
    assert "mine" in completed.stdout.splitlines()[1]
    [record_path] = out.glob("*-fanout.json")
    record = json.loads(record_path.read_text())
    [column] = record["columns"]
    fanout, idle = column["fanout"], column["idle"]
    fixed = fanout["fixed"]
    assert fixed["delivered"] > 0
    # Every expected delivery is accounted for: received, or counted as late (a busy
    # machine may leave some in flight after the drain; the table shows how many).
    assert fixed["delivered"] + fixed["undelivered_after_drain"] == fixed["expected"]
    assert fixed["expected"] == fixed["publishes"] * 20
    assert fixed["target_per_s"] == 2000
    assert 0 < fixed["p50_ms"] <= fixed["p90_ms"] <= fixed["p99_ms"]
    # The server's pid was given, so its CPU was measured.
    assert fixed["deliveries_per_server_cpu_s"] > 0
    assert idle["still_connected"] == 20
    assert idle["kb_per_connection"] is not None
    assert record["throughput"]["mine"], "no per-second throughput was recorded"

    pngs = sorted(out.glob("*.png"))
    assert [p.name.rsplit("-", 1)[-1] for p in pngs] == ["latency.png", "throughput.png"]
    for png in pngs:
        assert png.read_bytes().startswith(_PNG_MAGIC)
        assert png.stat().st_size > 10_000  # axes, lines and labels, not an empty canvas


def _bench(scenario: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``baatcheet bench SCENARIO --quick`` on Baatcheet servers the command starts itself."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "baatcheet.cli",
            "bench",
            scenario,
            "--quick",
            *extra,
            "--quiet-secs",
            "0",
            "--no-pin",
            "--no-plots",
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_storm_restarts_the_server_and_every_client_rejoins(tmp_path: Path) -> None:
    out = tmp_path / "results"
    completed = _bench(
        "storm", out, "--compare", "baatcheet", "--clients", "40", "--generators", "2"
    )
    assert completed.returncode == 0, completed.stderr[-2000:]

    [record_path] = out.glob("*-storm.json")
    storm = json.loads(record_path.read_text())["columns"][0]["storm"]
    assert storm["generators"] == 2
    assert storm["connected"] == 40
    assert storm["connects_per_s"] > 0
    assert storm["connect_latency"]["count"] == 40  # both generators' histograms merged
    # The server was killed and started again; every kept client came back and re-joined,
    # no sooner than the official client's first reconnection delay (1 s ± 50 %).
    assert storm["restart_clients"] == 40
    assert storm["rejoined"] == 40
    assert storm["restart_to_rejoined_s"] >= 0.5
    assert "restart → all re-joined (s)" in completed.stdout


def test_chat_run_acks_every_message_and_finds_each_acked_one_in_the_database(
    tmp_path: Path,
) -> None:
    """Both durability modes: every send acked, every delivery made, and the database the
    server wrote holds a row for every acknowledged message (checked after the run)."""
    out = tmp_path / "results"
    completed = _bench("chat", out, "--compare", "baatcheet,baatcheet-normal")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "acked messages missing from DB" in completed.stdout

    [record_path] = out.glob("*-chat.json")
    columns = {c["label"]: c["chat"] for c in json.loads(record_path.read_text())["columns"]}
    assert set(columns) == {"baatcheet", "baatcheet-normal"}
    for label, chat in columns.items():
        fixed = chat["fixed"]
        assert fixed["acked"] == fixed["sent"] > 0, label
        assert fixed["refused"] == 0, label
        assert fixed["deliveries"] == fixed["expected_deliveries"] > fixed["acked"], label
        assert fixed["messages_per_server_cpu_s"] > 0, label
        assert chat["unanswered_whole_run"] == 0, label
        durability = chat["durability"]
        assert durability["checked"], label
        assert durability["lost"] == 0, label
        assert durability["rows"] >= durability["acked"] > fixed["acked"], label


def test_idle_chat_run_holds_every_authenticated_connection(tmp_path: Path) -> None:
    out = tmp_path / "results"
    completed = _bench("idle-chat", out, "--compare", "baatcheet", "--clients", "120")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "/chat connections open (JWT)" in completed.stdout

    [record_path] = out.glob("*-idle-chat.json")
    idle = json.loads(record_path.read_text())["columns"][0]["idle-chat"]
    assert idle["nsp"] == "/chat"
    assert idle["connected"] == idle["still_connected"] == 120
    assert idle["connect_failures"] == 0
    assert idle["kb_per_connection"] > 0
    assert idle["cpu_percent_of_core"] is not None
