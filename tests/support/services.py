"""Throwaway PostgreSQL and Redis servers for tests, on free loopback ports.

Each helper is a context manager that starts a private server, yields its URL and stops it,
so tests run against the real thing without touching any server the machine already has.
A missing binary raises ``ServiceUnavailableError`` instead of skipping: a suite that
silently skips its database tests reports success for code that never ran.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.paths import SETUP_HINT
from support.ports import free_port

__all__ = ["ServiceUnavailableError", "postgres_server", "redis_server"]

_PG_DATABASE = "baatcheet_test"
_PG_USER = "postgres"
_START_TIMEOUT_S = 30.0


class ServiceUnavailableError(RuntimeError):
    """A server the tests need could not be started; the message says how to fix it."""


def _postgres_bin_dir() -> Path:
    """Find the newest PostgreSQL server binaries (Debian keeps them off ``PATH``)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not candidates:
        raise ServiceUnavailableError(
            f"PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): {SETUP_HINT},"
            " or set BAATCHEET_TEST_POSTGRES_URL to an existing database"
        )
    return Path(candidates[-1]).parent


def _as_postgres(argv: list[str]) -> list[str]:
    """Prefix ``argv`` so it runs as the ``postgres`` user when we are root.

    PostgreSQL refuses to run as root, so under root (CI, containers) every server command
    goes through ``runuser``; as an ordinary user it runs directly.
    """
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", _PG_USER, "--", *argv]


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceUnavailableError(
            f"{what} failed (exit {result.returncode}): {' '.join(argv)}\n"
            f"{result.stdout}{result.stderr}"
        )


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a fresh PostgreSQL cluster and yield a ``postgresql+asyncpg://`` URL to its database.

    The cluster lives in a new folder under the system temp dir (not pytest's tmp dirs, which
    are private to root and unreadable by the ``postgres`` user), trusts local connections,
    listens only on 127.0.0.1 and runs with fsync off: it is thrown away after the session.
    """
    bin_dir = _postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="baatcheet-pg-"))
    data_dir = root / "data"
    log_file = root / "server.log"
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(_PG_USER)
        except KeyError as exc:
            raise ServiceUnavailableError(
                f"no '{_PG_USER}' OS user to run PostgreSQL as: {SETUP_HINT}"
            ) from exc
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = free_port()
    pg_ctl = str(bin_dir / "pg_ctl")
    server_options = (
        f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off"
        " -c full_page_writes=off"
    )
    try:
        _run(
            _as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    _PG_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        _run(
            _as_postgres(
                [
                    pg_ctl,
                    "-D",
                    str(data_dir),
                    "-l",
                    str(log_file),
                    "-o",
                    server_options,
                    "-w",
                    "-t",
                    str(int(_START_TIMEOUT_S)),
                    "start",
                ]
            ),
            "pg_ctl start",
        )
        try:
            _run(
                _as_postgres(
                    [
                        str(bin_dir / "createdb"),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "-U",
                        _PG_USER,
                        _PG_DATABASE,
                    ]
                ),
                "createdb",
            )
            yield f"postgresql+asyncpg://{_PG_USER}@127.0.0.1:{port}/{_PG_DATABASE}"
        finally:
            _run(
                _as_postgres([pg_ctl, "-D", str(data_dir), "-m", "immediate", "-w", "stop"]),
                "pg_ctl stop",
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _redis_answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    """Run a private ``redis-server`` without persistence and yield its ``redis://`` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailableError(f"redis-server is not installed: {SETUP_HINT}")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    argv += ["no", "--daemonize", "no", "--loglevel", "warning"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        try:
            deadline = time.monotonic() + _START_TIMEOUT_S
            while not _redis_answers_ping(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                    raise ServiceUnavailableError(
                        f"redis-server did not start on port {port}:\n{output}"
                    )
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
