"""The reference servers ``baatcheet bench --compare`` starts: one fresh process per phase.

Columns are labels: ``node`` (socket.io 4.8, ``bench/node/*_server.js``), ``baatcheet``
(``bench/apps/fanout.py`` or ``baatcheet serve``), ``baatcheet-normal`` (chat with
``BAATCHEET_SQLITE_SYNCHRONOUS=normal``), ``baatcheet-dynamic`` and
``baatcheet-dynamic-private`` (cluster nodes with that Redis subscription). The programs
live in a source checkout's ``bench/`` folder, found from the working directory or
``BAATCHEET_BENCH_DIR``; pointing ``--target`` at a running server needs none of them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from baatcheet.loadtest.errors import BenchError, NodeMissingError
from baatcheet.loadtest.processes import log_tail, pinned, spawn, stop, wait_for_port
from baatcheet.loadtest.scenarios import App

__all__ = ["ServerSpec", "bench_dir", "ensure_reference_modules", "start_server", "supports"]

SERVER_CORE = 0
_START_TIMEOUT_S = 60.0
_NO_RATE_LIMIT = {"BAATCHEET_PACKET_RATE_PER_S": "1000000", "BAATCHEET_PACKET_BURST": "1000000"}
"""The generators' publishers send up to 2,000 events/s; Node has no per-connection limit."""


def bench_dir() -> Path:
    """The checkout's ``bench/`` folder (reference servers and apps).

    Raises:
        BenchError: none found from ``BAATCHEET_BENCH_DIR``, the working directory or its
            parents.
    """
    candidates: list[Path] = []
    if env := os.environ.get("BAATCHEET_BENCH_DIR"):
        candidates.append(Path(env))
    cwd = Path.cwd()
    candidates += [parent / "bench" for parent in (cwd, *cwd.parents)]
    for candidate in candidates:
        if (candidate / "node" / "fanout_server.js").is_file():
            return candidate
    raise BenchError(
        "--compare starts the reference servers from a Baatcheet source checkout's bench/"
        " folder: run it from the checkout or set BAATCHEET_BENCH_DIR (or measure a running"
        " server with --target LABEL=ws://HOST:PORT)"
    )


def ensure_reference_modules(bench: Path) -> None:
    """Runs ``npm ci`` in ``bench/node`` when its modules are missing or older than the lock."""
    node_dir = bench / "node"
    marker = node_dir / "node_modules" / ".package-lock.json"
    lock = node_dir / "package-lock.json"
    if marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("bench: npm ci in bench/node", file=sys.stderr)
    try:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=node_dir, check=True
        )
    except FileNotFoundError:
        raise NodeMissingError("the Node reference servers need npm on PATH") from None
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"npm ci in {node_dir} failed (exit {exc.returncode})") from None


def supports(label: str, app: App, accounts: bool = False) -> bool:
    """Whether column ``label`` has a server for ``app`` (with ``accounts``: REST sign-up and
    JWT at the handshake, which the Node chat reference does not have)."""
    if label == "node":
        return not accounts
    if label == "baatcheet":
        return True
    if label == "baatcheet-normal":
        return app is App.CHAT
    if label in ("baatcheet-dynamic", "baatcheet-dynamic-private"):
        return app is App.CLUSTER
    return False


@dataclass
class ServerSpec:
    """How to start column ``label``'s server for ``app``: the command and extra environment."""

    command: list[str]
    env: dict[str, str]


def _spec(
    label: str, app: App, port: int, bench: Path, *, db: Path | None, redis_url: str | None
) -> ServerSpec:
    node_dir = bench / "node"
    fanout_app = [sys.executable, str(bench / "apps" / "fanout.py"), str(port)]
    if label == "node":
        if app is App.CHAT:
            return ServerSpec(["node", str(node_dir / "chat_server.js"), str(port), str(db)], {})
        if app is App.CLUSTER:
            script = node_dir / "fanout_cluster_server.js"
            return ServerSpec(["node", str(script), str(port)], {"REDIS_URL": redis_url or ""})
        return ServerSpec(["node", str(node_dir / "fanout_server.js"), str(port)], {})
    if app is App.CHAT:
        env = {
            "BAATCHEET_HOST": "127.0.0.1",
            "BAATCHEET_PORT": str(port),
            "BAATCHEET_LOG_LEVEL": "warning",
            "BAATCHEET_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "BAATCHEET_JWT_SECRET": f"bench-{port}",
            # The generator registers its users from one address, faster than people do.
            "BAATCHEET_AUTH_ATTEMPTS_PER_MINUTE_PER_ADDRESS": "1000000",
        }
        if label == "baatcheet-normal":
            env["BAATCHEET_SQLITE_SYNCHRONOUS"] = "normal"
        return ServerSpec([sys.executable, "-m", "baatcheet.cli", "serve"], env)
    if app is App.CLUSTER:
        mode = label.removeprefix("baatcheet").removeprefix("-") or "classic"
        redis = ["--redis-url", redis_url] if redis_url else []
        return ServerSpec([*fanout_app, *redis, "--redis-subscription", mode], dict(_NO_RATE_LIMIT))
    return ServerSpec(fanout_app, dict(_NO_RATE_LIMIT))


async def _answers_handshake(port: int, process: subprocess.Popen[bytes], deadline: float) -> bool:
    """Whether an Engine.IO handshake (long-polling GET) gets its 200 before ``deadline``.

    An open port is not a ready server: an app may bind before it has imported its code
    (connections then wait in the accept queue), and a baseline taken then would be wrong.
    """
    url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    async with httpx.AsyncClient(timeout=5.0) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if (await client.get(url)).status_code == httpx.codes.OK:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    return False


async def start_server(
    label: str,
    app: App,
    port: int,
    bench: Path,
    *,
    log_path: Path,
    db: Path | None = None,
    redis_url: str | None = None,
) -> subprocess.Popen[bytes]:
    """Starts column ``label``'s server for ``app`` on core 0 and waits for its port.

    Raises:
        BenchError: it did not listen within 60 s; the message quotes its log.
    """
    spec = _spec(label, app, port, bench, db=db, redis_url=redis_url)
    process = spawn(pinned(spec.command, SERVER_CORE), log_path, spec.env)
    deadline = time.monotonic() + _START_TIMEOUT_S
    if not await wait_for_port(port, process, _START_TIMEOUT_S) or not await _answers_handshake(
        port, process, deadline
    ):
        stop(process)
        raise BenchError(f"{label} server did not start: {log_tail(log_path)}")
    return process
