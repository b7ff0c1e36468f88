"""Load-generator processes: ``node js/loadgen.js`` with its ``ws`` module, and what it says.

``js/`` ships in the package. Its one dependency, ``ws``, is installed on first use with npm
into a cache folder (``$XDG_CACHE_HOME/baatcheet``, else ``~/.cache/baatcheet``), so an
installed wheel benchmarks with nothing but ``node`` and ``npm`` on PATH.

A generator prints log lines, ``@progress {json}`` once a second and ``@event {json}`` at
the steps the runner waits for on stderr, one JSON result on stdout, and takes one-word
commands on stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from baatcheet.loadtest.errors import BenchError, NodeMissingError
from baatcheet.loadtest.processes import pinned

__all__ = ["Generator", "ProgressSink", "ensure_loadgen"]

GENERATOR_CORE = 1
_PROGRESS = "@progress "
_EVENT = "@event "

ProgressSink = Callable[[int, dict[str, Any]], None]
"""Called with (generator index, sample) for each ``@progress`` line."""


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "baatcheet"


def ensure_loadgen() -> tuple[Path, Path]:
    """The loadgen.js script and the ``node_modules`` holding ``ws``, installing it if needed.

    Raises:
        NodeMissingError: node or npm is not on PATH.
        BenchError: npm could not install ``ws``.
    """
    if shutil.which("node") is None:
        raise NodeMissingError(
            "baatcheet bench runs its load generator on Node.js: install node (>= 20) and npm"
        )
    js = Path(str(resources.files("baatcheet.loadtest") / "js"))
    manifest = (js / "package.json").read_bytes()
    cache = _cache_root() / f"loadgen-{hashlib.sha256(manifest).hexdigest()[:12]}"
    modules = cache / "node_modules"
    if not (modules / "ws" / "package.json").is_file():
        if shutil.which("npm") is None:
            raise NodeMissingError(
                "baatcheet bench installs the load generator's `ws` module with npm on first"
                " use: install npm"
            )
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "package.json").write_bytes(manifest)
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--omit=dev"],
            cwd=cache,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"npm install in {cache} failed: {result.stderr.strip()[-500:]}")
    return js / "loadgen.js", modules


class Generator:
    """One running loadgen.js process; ``index`` tells it apart in progress samples."""

    def __init__(
        self, index: int, process: asyncio.subprocess.Process, log_path: Path, sink: ProgressSink
    ) -> None:
        self.index = index
        self._process = process
        self._log_path = log_path
        self._sink = sink
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tail: list[str] = []
        assert process.stdout is not None and process.stderr is not None
        self._stdout = asyncio.ensure_future(process.stdout.read())
        self._stderr = asyncio.ensure_future(self._read_stderr(process.stderr))

    @classmethod
    async def start(
        cls,
        index: int,
        scenario: str,
        *,
        args: list[str],
        log_path: Path,
        sink: ProgressSink,
        pin: bool,
    ) -> Generator:
        """Starts ``node loadgen.js SCENARIO ARGS`` (on core 1 when ``pin``)."""
        script, modules = ensure_loadgen()
        command = pinned(["node", str(script), scenario, *args], GENERATOR_CORE if pin else None)
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NODE_PATH": str(modules)},
            limit=1 << 20,
        )
        return cls(index, process, log_path, sink)

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        with self._log_path.open("a", encoding="utf-8") as log:
            while line_bytes := await stream.readline():
                line = line_bytes.decode(errors="replace").rstrip("\n")
                if line.startswith(_PROGRESS):
                    self._sink(self.index, json.loads(line[len(_PROGRESS) :]))
                elif line.startswith(_EVENT):
                    await self._events.put(json.loads(line[len(_EVENT) :]))
                else:
                    log.write(line + "\n")
                    self._tail = [*self._tail[-4:], line]

    async def event(self, name: str, timeout_s: float) -> dict[str, Any]:
        """Waits for the ``@event`` called ``name``.

        Raises:
            BenchError: the generator ended, or ``timeout_s`` passed, first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            remaining = deadline - loop.time()
            getter = asyncio.ensure_future(self._events.get())
            done, _ = await asyncio.wait(
                {getter, self._stderr},
                timeout=max(0.0, remaining),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if getter not in done:
                getter.cancel()
                if self._stderr in done:
                    raise BenchError(f"generator {self.index} ended: {self.last_words()}")
                raise BenchError(f"generator {self.index}: no {name!r} within {timeout_s:g} s")
            event = getter.result()
            if event.get("event") == name:
                return event

    async def send(self, word: str) -> None:
        """Writes the command ``word`` to the generator's stdin."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"{word}\n".encode())
        with contextlib.suppress(ConnectionError):
            await self._process.stdin.drain()

    async def result(self, timeout_s: float) -> dict[str, Any]:
        """The generator's JSON result, once it exits.

        Raises:
            BenchError: it failed, printed no JSON, or ran past ``timeout_s`` (then it is killed).
        """
        try:
            out = await asyncio.wait_for(asyncio.shield(self._stdout), timeout_s)
            await asyncio.wait_for(self._process.wait(), 10)
            await asyncio.wait_for(self._stderr, 10)
        except TimeoutError:
            self.kill()
            raise BenchError(f"generator {self.index} ran past {timeout_s:g} s") from None
        if self._process.returncode != 0:
            raise BenchError(
                f"generator {self.index} failed (exit {self._process.returncode}):"
                f" {self.last_words()}"
            )
        try:
            result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            raise BenchError(f"generator {self.index} printed no result") from None
        return result

    @property
    def pid(self) -> int:
        """The process id (its CPU time is the generator's core share)."""
        return self._process.pid

    def last_words(self) -> str:
        """The last log lines, for an error message."""
        return " / ".join(self._tail) or f"see {self._log_path}"

    def kill(self) -> None:
        """Ends the process at once (the runner's clean-up)."""
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
