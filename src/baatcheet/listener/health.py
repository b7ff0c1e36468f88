"""``/healthz`` and ``/readyz``, answered by the listener itself.

* ``/healthz`` — liveness: 200 whenever the process answers HTTP at all. A balancer or an
  orchestrator restarts a process that stops answering it; it must not fail because a
  dependency is down (restarting would not help).
* ``/readyz`` — readiness: 200 when this node should get new clients: it is not draining
  and every dependency check (the database, Redis when configured) answers within
  ``health_timeout_s``. Otherwise 503 with a JSON body whose ``reason`` names the first
  failure, and ``checks`` the outcome of each. A draining node answers 503 at once,
  without running the checks.

Both are answered without the hosted ASGI app, so a busy or broken app cannot make a
healthy node look dead, and they carry ``Cache-Control: no-store``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import orjson

from baatcheet.engine.http import HttpRequest, Responder

__all__ = ["Check", "Health"]

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
"""A readiness check: returns if the dependency answers, raises (with a reason) if not."""

_HEADERS: Final = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
]
_OK: Final = "ok"


class Health:
    """The two health endpoints of one node.

    Args:
        draining: Whether the node is going away (read on each ``/readyz``).
        timeout_s: How long each check may take before it counts as failed.
    """

    def __init__(self, draining: Callable[[], bool], timeout_s: float) -> None:
        self._draining = draining
        self._timeout_s = timeout_s
        self._checks: dict[str, Check] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add_check(self, name: str, check: Check) -> None:
        """Make ``/readyz`` depend on ``check``, reported under ``name``."""
        self._checks[name] = check

    def healthz(self, request: HttpRequest, responder: Responder) -> None:
        """Liveness: the process is running its event loop."""
        del request
        responder.respond(200, _HEADERS, orjson.dumps({"status": _OK}))

    def readyz(self, request: HttpRequest, responder: Responder) -> None:
        """Readiness: not draining, and every check passes (answered from a task)."""
        del request
        if self._draining():
            body = {"status": "unavailable", "reason": "draining"}
            responder.respond(503, _HEADERS, orjson.dumps(body))
            return
        task = asyncio.ensure_future(self._answer(responder))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, responder: Responder) -> None:
        names = list(self._checks)
        outcomes = await asyncio.gather(*(self._run(self._checks[name]) for name in names))
        checks = dict(zip(names, outcomes, strict=True))
        failed = [f"{name}: {outcome}" for name, outcome in checks.items() if outcome != _OK]
        if self._draining():
            # The node started draining while the checks ran.
            failed.insert(0, "draining")
        if failed:
            body = {"status": "unavailable", "reason": failed[0], "checks": checks}
            responder.respond(503, _HEADERS, orjson.dumps(body))
        else:
            responder.respond(200, _HEADERS, orjson.dumps({"status": _OK, "checks": checks}))

    async def _run(self, check: Check) -> str:
        """``"ok"``, or why the check failed."""
        try:
            async with asyncio.timeout(self._timeout_s):
                await check()
        except TimeoutError:
            return f"no answer within {self._timeout_s:g} s"
        except Exception as exc:
            return str(exc) or exc.__class__.__name__
        return _OK
