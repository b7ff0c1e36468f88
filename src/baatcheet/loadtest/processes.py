"""What the runner reads of and does to local processes: CPU time, RSS, pinning, stopping.

Figures come from ``/proc`` (Linux), so a server's CPU can be measured only when it runs on
this machine and its pid is known (started here, or given with ``--server-pid``).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = [
    "busy_core_seconds",
    "cpu_seconds",
    "free_port",
    "log_tail",
    "pinned",
    "rss_kb",
    "spawn",
    "stop",
    "wait_for_port",
    "wait_for_quiet",
]

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_QUIET_CORES = 0.3


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far; 0.0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            text = stat.read()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def busy_core_seconds() -> float:
    """Busy CPU seconds of every core (user, nice, system, steal), from ``/proc/stat``."""
    busy = 0
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            if line.startswith("cpu") and line[3].isdigit():
                fields = [int(x) for x in line.split()[1:]]
                busy += fields[0] + fields[1] + fields[2] + fields[7]
    return busy / _CLK_TCK


async def wait_for_quiet(max_secs: float, own_pids: list[int]) -> float:
    """Waits (at most ``max_secs``) for a second in which other processes use < 0.3 core.

    The machine may be shared; the load last seen is returned so the record can flag a
    noisy run. ``own_pids`` (servers, helpers) do not count as others.
    """
    deadline = time.monotonic() + max_secs
    load = 0.0
    while True:
        busy0 = busy_core_seconds()
        own0 = sum(cpu_seconds(pid) for pid in own_pids)
        await asyncio.sleep(1.0)
        own = sum(cpu_seconds(pid) for pid in own_pids) - own0
        load = max(0.0, busy_core_seconds() - busy0 - own)
        if load < _QUIET_CORES or time.monotonic() >= deadline:
            return round(load, 3)


def pinned(command: list[str], core: int | None) -> list[str]:
    """``command`` pinned to ``core`` with taskset, at nice -15 when running as root.

    A benchmark on a shared machine is disturbed less at a high priority; without taskset
    or with one core, the command runs unpinned.
    """
    prefix: list[str] = []
    if core is not None and shutil.which("taskset") and (os.cpu_count() or 1) > core:
        prefix = ["taskset", "-c", str(core)]
    if os.geteuid() == 0:
        prefix = ["nice", "-n", "-15", *prefix]
    return [*prefix, *command]


def spawn(
    command: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Starts ``command`` with stdout and stderr appended to ``log_path``, stdin closed."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def log_tail(log_path: Path, lines: int = 3) -> str:
    """The last ``lines`` lines of a log, on one line, for an error message."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return f"no log at {log_path}"
    return " / ".join(text.strip().splitlines()[-lines:])


def _ephemeral_floor() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as ports:
            return int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, chosen below the ephemeral range.

    A port from the ephemeral range (what binding port 0 gives) can be taken by any
    outgoing connection on the machine before the server binds it, or while a killed
    server is being restarted on it; ten thousand reconnecting clients make that likely.
    """
    floor = _ephemeral_floor()
    low = max(1024, floor - 12_000)
    for _ in range(200):
        port = random.randrange(low, floor)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        chosen: int = probe.getsockname()[1]
        return chosen


async def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether ``process`` listens on 127.0.0.1:``port`` within ``timeout_s`` (False if it died)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return True
    return False


def stop(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM, up to ``grace_s`` for it to end, then SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
