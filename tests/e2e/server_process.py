"""``baatcheet serve`` as a real child process that a test can stop and start again.

The end-to-end tests need the same thing a user runs — the CLI, the web build, the SQLite
file — and the reconnect test needs to take the server away and bring it back on the same
port and database, which an in-process server cannot show honestly.
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

__all__ = ["ServerProcess", "ServerStartError"]

_START_TIMEOUT_S = 60.0  # a loaded 2-core CI machine takes seconds to import the server
_STOP_TIMEOUT_S = 15.0
JWT_SECRET = "e2e-test-secret-that-is-long-enough-for-hs256"
"""Fixed, so tokens issued before a restart are still accepted after it."""


class ServerStartError(RuntimeError):
    """``baatcheet serve`` exited or never became healthy; the message carries its log."""


def _baatcheet_executable() -> str:
    """The ``baatcheet`` script of the environment running the tests (what `uv run` runs)."""
    candidate = Path(sys.executable).with_name("baatcheet")
    return str(candidate) if candidate.exists() else "baatcheet"


class ServerProcess:
    """One ``baatcheet serve`` on a fixed port and SQLite file, restartable in place.

    Args:
        data_dir: Folder for the database and the server log; kept across restarts.
        env: Extra ``BAATCHEET_*`` settings for this server, e.g. a short token lifetime.
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self._extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._data_dir = data_dir
        self._log_path = data_dir / "server.log"
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and return once ``/readyz`` answers 200 (database reachable)."""
        if self._process is not None:
            raise RuntimeError("the server is already running; stop() it first")
        env = {
            **os.environ,
            "BAATCHEET_DATABASE_URL": f"sqlite+aiosqlite:///{self._data_dir / 'db.sqlite'}",
            "BAATCHEET_JWT_SECRET": JWT_SECRET,
            "BAATCHEET_SHUTDOWN_GRACE_S": "0.5",
            **self._extra_env,
        }
        self._log = self._log_path.open("ab")
        self._process = subprocess.Popen(
            [_baatcheet_executable(), "serve", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._close_log()
                self._process = None
                raise ServerStartError(f"baatcheet serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerStartError(
            f"baatcheet serve was not healthy after {_START_TIMEOUT_S:.0f} s:\n{self.log()}"
        )

    def stop(self) -> int | None:
        """Stop the server the way an operator would (SIGTERM), killing it if it hangs.

        Returns:
            The exit code (negative: killed by that signal), or None if it was not running.
        """
        process, self._process = self._process, None
        if process is None:
            return None
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        self._close_log()
        return code

    def restart(self) -> None:
        """Stop, then start again on the same port with the same database."""
        self.stop()
        self.start()

    def log(self) -> str:
        """Everything the server printed so far, for failure messages."""
        if not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")[-8000:]

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
