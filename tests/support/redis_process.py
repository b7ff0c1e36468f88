"""A private ``redis-server`` on a fixed loopback port that a test can stop and start again.

``services.redis_server`` is one server for the whole session; a failure drill needs to take
Redis away under traffic and bring it back *on the same port*, so the nodes' configured
``redis_url`` finds it again::

    with RedisProcess() as redis:
        start_nodes(redis.url)
        redis.stop()    # every connection to it drops; new ones are refused
        redis.start()   # an empty Redis (no persistence) on the same port

Everything is in memory; a restart starts empty, as a Redis without persistence does.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from types import TracebackType
from typing import Self

from support.paths import SETUP_HINT
from support.ports import free_port

__all__ = ["RedisProcess"]

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisProcess:
    """``redis-server`` on ``127.0.0.1:<port>``, restartable in place; ``with`` stops it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and return once it answers ``PING``."""
        if self._process is not None:
            raise RuntimeError("redis-server is already running; stop() it first")
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"redis-server is not installed: {SETUP_HINT}")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _answers_ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL if it hangs); every client connection drops."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
