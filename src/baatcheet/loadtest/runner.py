"""Runs a scenario: for each column, each phase on a fresh server, then table, JSON, plots.

Columns are either servers this tool starts (``--compare``, from :mod:`.servers`, pinned to
core 0 with the generators on core 1, as the published figures are taken) or targets the
user runs (``--target LABEL=ws://HOST:PORT``), measured from outside: CPU and memory
figures need the target's pid (``--server-pid``) and a restart needs a server started here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from baatcheet.loadtest import plots, report
from baatcheet.loadtest.errors import BenchError
from baatcheet.loadtest.generator import Generator
from baatcheet.loadtest.histogram import merge_histograms
from baatcheet.loadtest.processes import (
    cpu_seconds,
    free_port,
    pinned,
    rss_kb,
    spawn,
    stop,
    wait_for_port,
    wait_for_quiet,
)
from baatcheet.loadtest.progress import Progress
from baatcheet.loadtest.scenarios import App, Driver, Phase, Scenario
from baatcheet.loadtest.servers import (
    bench_dir,
    ensure_reference_modules,
    start_server,
    supports,
)

__all__ = ["RunOptions", "RunResult", "Target", "run"]

_SETTLE_S = 1.0
_GENERATOR_GRACE_S = 120.0
_CONNECT_TIMEOUT_S = 600.0
_REGISTRATIONS_IN_FLIGHT = 8

Restart = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    """A server to measure as it runs: its URLs (one per cluster node) and pids, if known."""

    label: str
    urls: tuple[str, ...]
    pids: tuple[int, ...] = ()


@dataclass
class RunOptions:
    """What ``baatcheet bench`` was asked to do.

    ``targets`` empty means: start the reference servers named by ``labels``.
    """

    scenario: Scenario
    labels: list[str]
    out_dir: Path
    targets: dict[str, Target] = field(default_factory=dict)
    generators: int | None = None
    quiet_secs: float = 15.0
    receipts: bool = False
    clients: int | None = None
    fixed_rate: int | None = None
    pin: bool = True
    plots: bool = True
    quick: bool = False


@dataclass
class RunResult:
    """Where the run's record went, and the table printed."""

    json_path: Path
    table: str
    pngs: list[Path]
    run_dir: Path


@dataclass
class _Servers:
    """The processes of one phase's column, so a failure can always stop them."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)
        self.processes.clear()


def _shares(total: int, parts: int) -> list[int]:
    """``total`` dealt to ``parts`` as evenly as whole numbers allow."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _http_base(url: str) -> str:
    return url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)


class _Run:
    """One run: its temporary folder (logs, databases), the redis-server of a cluster
    scenario, and the generators of the phase under way (killed whatever happens)."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.progress = Progress()
        self.run_dir = Path(tempfile.mkdtemp(prefix="baatcheet-bench."))
        self.bench = None if options.targets else bench_dir()
        self.redis: subprocess.Popen[bytes] | None = None
        self.redis_url: str | None = None
        self.generators: list[Generator] = []

    # ------------------------------------------------------------------ servers

    async def _start_redis(self) -> None:
        if shutil.which("redis-server") is None:
            raise BenchError("the cluster scenario needs redis-server on PATH")
        port = free_port()
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"]
        self.redis = spawn(
            pinned(command, 1 if self.options.pin else None), self.run_dir / "redis.log"
        )
        if not await wait_for_port(port, self.redis, 10.0):
            raise BenchError(f"redis-server did not start; see {self.run_dir / 'redis.log'}")
        self.redis_url = f"redis://127.0.0.1:{port}/0"

    async def _start(
        self, index: int, label: str, phase: Phase, servers: _Servers
    ) -> tuple[list[str], Path | None, Restart | None]:
        """Starts the phase's servers; returns their URLs, the chat database, a restarter."""
        assert self.bench is not None
        db = self.run_dir / f"{index}-{label}-{phase.name}.db" if phase.app is App.CHAT else None
        redis = self.redis_url if phase.nodes > 1 else None
        urls: list[str] = []
        ports: list[int] = []
        for node in range(phase.nodes):
            port = free_port()
            log = self.run_dir / f"{index}-{label}-{phase.name}.server{node}.log"
            process = await start_server(
                label, phase.app, port, self.bench, log_path=log, db=db, redis_url=redis
            )
            servers.processes.append(process)
            urls.append(f"ws://127.0.0.1:{port}")
            ports.append(port)
        # Let start-up work (imports, JIT, GC) finish before any baseline is taken.
        await asyncio.sleep(_SETTLE_S)

        bench = self.bench

        async def restart() -> None:
            # SIGKILL, as a crash: no drain, clients find out from the closed sockets.
            old = servers.processes.pop(0)
            old.kill()
            old.wait()
            log = self.run_dir / f"{index}-{label}-{phase.name}.server0.log"
            servers.processes.insert(
                0,
                await start_server(
                    label, phase.app, ports[0], bench, log_path=log, db=db, redis_url=redis
                ),
            )

        return urls, db, restart

    # ------------------------------------------------------------------ generators

    async def _generator(
        self, gen_index: int, phase: Phase, args: list[str], tag: str
    ) -> Generator:
        log = self.run_dir / f"{tag}.gen{gen_index}.log"
        generator = await Generator.start(
            gen_index,
            phase.loadgen,
            args=args,
            log_path=log,
            sink=self.progress.sample,
            pin=self.options.pin,
        )
        self.generators.append(generator)
        return generator

    def _kill_generators(self) -> None:
        for generator in self.generators:
            generator.kill()
        self.generators.clear()

    async def _single(
        self,
        phase: Phase,
        label: str,
        urls: list[str],
        pids: list[int],
        *,
        db: Path | None,
        tag: str,
    ) -> dict[str, Any]:
        args = ["--url", ",".join(urls), "--quiet-secs", f"{self.options.quiet_secs:g}"]
        args += ["--server", "baatcheet" if label.startswith("baatcheet") else "node"]
        if pids:
            args += ["--pid", ",".join(map(str, pids))]
        if self.redis is not None and phase.nodes > 1:
            args += ["--aux-pid", str(self.redis.pid)]
        args += _with_fixed_rate(phase.args, self.options.fixed_rate)
        if self.options.clients is not None and phase.loadgen == "fanout":
            args += ["--clients", str(self.options.clients)]
        if self.options.receipts and phase.app is App.CHAT:
            args.append("--receipts")
        generator = await self._generator(0, phase, args, tag)
        result = await generator.result(600 + _GENERATOR_GRACE_S)
        fixed = result.get("fixed")
        if isinstance(fixed, dict) and isinstance(fixed.get("histogram"), dict):
            fixed.update(merge_histograms([fixed.pop("histogram")]).summary())
        if "acked_ids" in result:
            result["durability"] = _durability(db, result.pop("acked_ids"))
        return result

    async def _tokens(self, url: str, users: int, tag: str) -> Path:
        """Registers ``users`` accounts over the REST API; returns a file of their JWTs."""
        limit = asyncio.Semaphore(_REGISTRATIONS_IN_FLIGHT)
        stamp = f"{int(time.time()):x}"

        async def register(client: httpx.AsyncClient, i: int) -> str:
            async with limit:
                response = await client.post(
                    "/api/auth/register",
                    json={"username": f"b{stamp}u{i}", "password": f"bench-password-{stamp}"},
                )
            if response.status_code != httpx.codes.CREATED:
                raise BenchError(
                    f"registering bench user {i}: HTTP {response.status_code} {response.text}"
                )
            token: str = response.json()["accessToken"]
            return token

        self.progress.note(f"registering {users} users")
        try:
            async with httpx.AsyncClient(base_url=_http_base(url), timeout=120) as client:
                tokens = await asyncio.gather(*(register(client, i) for i in range(users)))
        except httpx.HTTPError as exc:
            raise BenchError(f"registering bench users at {url}: {exc!r}") from None
        path = self.run_dir / f"{tag}.tokens.json"
        path.write_text(json.dumps(tokens))
        return path

    async def _parallel(self, phase: Phase, url: str, pid: int | None, tag: str) -> list[Generator]:
        """Starts the phase's generators with their shares of the clients, all waiting for go."""
        count = phase.generator_count(self.options.generators)
        tokens = await self._tokens(url, phase.users, tag) if phase.users else None
        deadline = _CONNECT_TIMEOUT_S + phase.hold_secs + 240
        generators: list[Generator] = []
        first = 0
        for index, share in enumerate(_shares(phase.clients, count)):
            args = ["--url", url, "--clients", str(share), "--nsp", phase.nsp]
            args += ["--deadline", f"{deadline:g}", *phase.args]
            if pid is not None:
                args += ["--pid", str(pid)]
            if phase.driver is Driver.STORM:
                kept = _shares(phase.restart_clients, count)[index]
                args += ["--restart-clients", str(kept)]
            if tokens is not None:
                args += ["--tokens-file", str(tokens), "--first-index", str(first)]
            first += share
            generators.append(await self._generator(index, phase, args, tag))
        for generator in generators:
            await generator.event("ready", 60)
        return generators

    async def _idle(self, phase: Phase, url: str, pid: int | None, tag: str) -> dict[str, Any]:
        generators = await self._parallel(phase, url, pid, tag)
        quiet = await wait_for_quiet(self.options.quiet_secs, [pid] if pid else [])
        rss0 = rss_kb(pid) if pid else None
        for generator in generators:
            await generator.send("go")
        connected = [await g.event("connected", _CONNECT_TIMEOUT_S) for g in generators]
        await asyncio.sleep(_SETTLE_S)
        cpu0, t0 = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
        self.progress.note(f"holding {phase.clients:,} connections idle for {phase.hold_secs:g} s")
        await asyncio.sleep(phase.hold_secs)
        cpu1, t1 = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
        rss1 = rss_kb(pid) if pid else None
        for generator in generators:
            await generator.send("stop")
        results = [await g.result(_GENERATOR_GRACE_S) for g in generators]
        opened = sum(int(e["connections"]) for e in connected)
        return {
            "scenario": phase.name,
            "nsp": phase.nsp,
            "generators": len(generators),
            "connections": phase.clients,
            "connected": opened,
            "connect_failures": sum(int(r["connect_failures"]) for r in results),
            "still_connected": sum(int(r["still_connected"]) for r in results),
            "hold_secs": round(t1 - t0, 1),
            "cpu_percent_of_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 2) if pid else None,
            "rss_base_kb": rss0,
            "rss_kb": rss1,
            "kb_per_connection": (
                round((rss1 - rss0) / opened, 2) if rss0 is not None and rss1 and opened else None
            ),
            "other_load_before": quiet,
        }

    async def _storm(
        self, phase: Phase, url: str, pid: int | None, restart: Restart | None, tag: str
    ) -> dict[str, Any]:
        if restart is None:
            phase = replace(phase, restart_clients=0)
        generators = await self._parallel(phase, url, pid, tag)
        quiet = await wait_for_quiet(self.options.quiet_secs, [pid] if pid else [])
        gen_cpu0 = sum(cpu_seconds(g_pid) for g_pid in self._generator_pids())
        cpu0, t0 = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
        for generator in generators:
            await generator.send("go")
        for generator in generators:
            await generator.event("ramped", _CONNECT_TIMEOUT_S)
        cpu1, t1 = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
        gen_cpu = sum(cpu_seconds(g_pid) for g_pid in self._generator_pids()) - gen_cpu0
        for generator in generators:
            await generator.event("connected", 120)
        for generator in generators:
            await generator.send("restart")
        for generator in generators:
            await generator.event("trimmed", 60)
        killed_ms: float | None = None
        if restart is not None and phase.restart_clients:
            self.progress.note("killing the server and starting it again on its port")
            killed_ms = time.time() * 1000
            await restart()
        results = [await g.result(_CONNECT_TIMEOUT_S) for g in generators]
        per_second: dict[int, int] = {}
        for result in results:
            for second, count in result["per_second"]:
                per_second[int(second)] = per_second.get(int(second), 0) + int(count)
        connected = sum(int(r["connected"]) for r in results)
        rejoined = sum(int(r["rejoined"]) for r in results)
        kept = sum(int(r["restart_clients"]) for r in results)
        last = [r["last_rejoin_ms"] for r in results if r["last_rejoin_ms"] is not None]
        all_back = killed_ms is not None and kept > 0 and rejoined == kept and bool(last)
        # Whole seconds only: the first and last are partly outside the ramp.
        inner = sorted(per_second)[1:-1] or sorted(per_second)
        return {
            "scenario": "storm",
            "generators": len(generators),
            "clients": phase.clients,
            "connected": connected,
            "connect_failures": sum(int(r["connect_failures"]) for r in results),
            "ramp_secs": round(t1 - t0, 2),
            "connects_per_s": round(connected / (t1 - t0)) if t1 > t0 else None,
            "peak_connects_per_s": max((per_second[s] for s in inner), default=None),
            "server_cpu_share_ramp": round((cpu1 - cpu0) / (t1 - t0), 3) if pid else None,
            "generator_core_share": round(gen_cpu / (t1 - t0), 3),
            "connect_latency": merge_histograms(r["histogram"] for r in results).summary(),
            "restart_clients": kept,
            "join_failures": sum(int(r["join_failures"]) for r in results),
            "rejoined": rejoined,
            "reconnect_failures": sum(int(r["reconnect_failures"]) for r in results),
            "restart_to_rejoined_s": (
                round((max(last) - killed_ms) / 1000, 2) if all_back and killed_ms else None
            ),
            "other_load_before": quiet,
        }

    def _generator_pids(self) -> list[int]:
        return [g.pid for g in self.generators]

    # ------------------------------------------------------------------ phases

    async def phase(self, index: int, label: str, phase: Phase) -> dict[str, Any]:
        """One column's phase on fresh servers; an error becomes ``{"error": ...}``."""
        if self.options.clients is not None and phase.driver is not Driver.SINGLE:
            clients = self.options.clients
            phase = replace(
                phase, clients=clients, restart_clients=min(phase.restart_clients, clients)
            )
        target = self.options.targets.get(label)
        if target is None and not supports(label, phase.app, accounts=phase.users > 0):
            return {"skipped": f"{label} has no server for the {phase.name} phase"}
        tag = f"{index}-{label}-{phase.name}"
        self.progress.begin(label, phase.name)
        servers = _Servers()
        try:
            restart: Restart | None = None
            db: Path | None = None
            if target is None:
                urls, db, restart = await self._start(index, label, phase, servers)
                pids = servers.pids
            else:
                urls = list(target.urls[: phase.nodes])
                pids = list(target.pids[: phase.nodes])
            pid = pids[0] if pids else None
            if phase.driver is Driver.SINGLE:
                return await self._single(phase, label, urls, pids, db=db, tag=tag)
            if phase.driver is Driver.IDLE:
                return await self._idle(phase, urls[0], pid, tag)
            return await self._storm(phase, urls[0], pid, restart, tag)
        except BenchError as exc:
            self.progress.note(f"{label} {phase.name}: {exc}")
            return {"error": str(exc)}
        finally:
            self._kill_generators()
            servers.stop_all()

    async def run(self) -> RunResult:
        options = self.options
        plan = options.scenario
        if self.bench is not None:
            ensure_reference_modules(self.bench)
        columns: list[dict[str, object]] = []
        try:
            if self.bench is not None and any(p.nodes > 1 for p in plan.phases):
                await self._start_redis()
            for index, label in enumerate(options.labels):
                column: dict[str, object] = {"label": label}
                for phase in plan.phases:
                    column[phase.name] = await self.phase(index, label, phase)
                columns.append(column)
        finally:
            self._kill_generators()
            if self.redis is not None:
                stop(self.redis)
        return self._finish(columns)

    def _finish(self, columns: list[dict[str, object]]) -> RunResult:
        self.progress.end()
        options = self.options
        plan = options.scenario
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        options.out_dir.mkdir(parents=True, exist_ok=True)
        base = options.out_dir / f"{stamp}-{plan.name}"
        if options.targets:
            placement = "targets measured as they run"
        elif plan.name == "cluster":
            placement = "both server nodes on core 0, generator and redis-server on core 1"
        else:
            placement = "server on core 0, generators on core 1"
        heading = (
            f"Baatcheet benchmark: {plan.name}{' (quick)' if options.quick else ''},"
            f" {os.cpu_count()} cores, {placement},"
            f" {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
        table = report.render(plan.name, columns)
        series = {
            label: phases.get(plan.plotted, {}) for label, phases in self.progress.series.items()
        }
        report.save(
            base.with_suffix(".json"),
            plan.name,
            columns,
            table,
            heading=heading,
            throughput={
                label: {str(s): p.rate for s, p in sorted(points.items())}
                for label, points in series.items()
            },
        )
        pngs: list[Path] = []
        if options.plots and plots.plots_available():
            latencies = {str(c["label"]): _latency(c.get(plan.plotted)) for c in columns}
            latency_png = base.with_name(base.name + "-latency.png")
            storm = plan.name == "storm"
            title = f"{plan.name}: " + ("connect latency" if storm else "latency at the fixed rate")
            ylabel = "handshake + namespace CONNECT (ms)" if storm else "latency (ms)"
            if plots.plot_latency(latency_png, title, ylabel, latencies):
                pngs.append(latency_png)
            throughput_png = base.with_name(base.name + "-throughput.png")
            if plots.plot_throughput(throughput_png, f"{plan.name}: throughput", series):
                pngs.append(throughput_png)
        elif options.plots:
            self.progress.note("plots skipped: install matplotlib (pip install 'baatcheet[bench]')")
        print(heading)
        print(table)
        print(f"JSON: {base.with_suffix('.json')}   logs: {self.run_dir}")
        for png in pngs:
            print(f"plot: {png}")
        return RunResult(base.with_suffix(".json"), table, pngs, self.run_dir)


def _with_fixed_rate(args: tuple[str, ...], rate: int | None) -> list[str]:
    """``args`` with the fixed phase's rate set to ``rate`` (when given)."""
    out = list(args)
    if rate is None:
        return out
    if "--fixed-rate" in out:
        out[out.index("--fixed-rate") + 1] = str(rate)
    else:
        out += ["--fixed-rate", str(rate)]
    return out


def _latency(phase: object) -> dict[str, float | None]:
    """The percentiles the latency plot shows for a phase's result (fixed rate or connect)."""
    if not isinstance(phase, dict):
        return {}
    for key in ("fixed", "connect_latency"):
        summary = phase.get(key)
        if isinstance(summary, dict):
            return {name: summary.get(name) for name in plots.PERCENTILES}
    return {}


def _durability(db: Path | None, acked_ids: list[int]) -> dict[str, object]:
    """Checks that every acknowledged message id is in the server's SQLite ``messages`` table."""
    if db is None or not db.is_file():
        return {"checked": False, "reason": "no database file known", "acked": len(acked_ids)}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            stored = {row[0] for row in conn.execute("SELECT id FROM messages")}
    except sqlite3.Error as exc:
        return {"checked": False, "reason": str(exc), "acked": len(acked_ids)}
    lost = sum(1 for message_id in acked_ids if message_id not in stored)
    return {"checked": True, "acked": len(acked_ids), "rows": len(stored), "lost": lost}


def _raise_open_files_limit() -> None:
    """Lifts the soft limit on open files to the hard one, for the processes started here.

    Each connection is an open file in the server and in a generator; the usual soft limit
    (1,024) would cap a run far below its 19,900 connections.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(options: RunOptions) -> RunResult:
    """Runs the benchmark to the end (on uvloop when available) and returns where it went."""
    _raise_open_files_limit()
    runner = _Run(options)
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(runner.run())
    return uvloop.run(runner.run())
