"""A ``baatcheet serve`` cluster node in its own process, which a drill can kill outright.

Like ``e2e.server_process.ServerProcess`` (start, SIGTERM stop, log), plus ``kill()``:
SIGKILL, no drain, no goodbye to Redis, the clients' connections reset by the kernel —
what a crashed machine or an OOM kill looks like to the rest of the cluster. Starting is
split in two (``spawn``, then ``wait_ready``) so several nodes import the server at the
same time: on a loaded machine that import is most of a node's start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from support.ports import free_port

__all__ = ["ClusterNode", "NodeStartError"]

_STOP_TIMEOUT_S = 15.0
JWT_SECRET = "cluster-test-secret-that-is-long-enough-for-hs256"
"""Shared by every node, so a token issued by one is accepted by all."""


class NodeStartError(RuntimeError):
    """``baatcheet serve`` exited or never became ready; the message carries its log."""


class ClusterNode:
    """One node on a free port; ``stop()`` and ``kill()`` are no-ops once it is gone.

    Args:
        data_dir: Folder for the node's log.
        env: ``BAATCHEET_*`` settings (database, Redis, ...) on top of the environment.
    """

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "BAATCHEET_JWT_SECRET": JWT_SECRET,
            "BAATCHEET_SHUTDOWN_GRACE_S": "0.5",
            **env,
        }
        self._log_path = data_dir / "server.log"
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start the process; ``wait_ready`` tells when it serves."""
        if self._process is not None:
            raise RuntimeError("the node is already running")
        self._log = self._log_path.open("ab")
        executable = Path(sys.executable).with_name("baatcheet")
        self._process = subprocess.Popen(
            [str(executable), "serve", "--port", str(self.port)],
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float) -> None:
        """Return once ``/readyz`` answers 200 (database and Redis reachable).

        Raises:
            NodeStartError: the process exited, or was not ready within ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise NodeStartError(f"baatcheet serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise NodeStartError(f"baatcheet serve was not ready after {timeout:g} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the node and reap it (returns once the process is gone)."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """Stop the node as an operator would (SIGTERM), killing it if it hangs."""
        self._end(signal.SIGTERM)

    def log(self) -> str:
        """The end of what the node printed, for failure messages."""
        if not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")[-8000:]

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.send_signal(how)
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
