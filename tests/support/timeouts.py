"""Per-test timeouts that fire on uvloop: a hung async test fails on its own, by name.

pytest-timeout's default ``signal`` method raises from a SIGALRM handler, and while uvloop
runs, that Python-level handler never gets to run (tried: a test awaiting an event that never
comes hangs the run, whether or not other timers keep the loop busy). So a test stuck on an
await that never completes (a lost wakeup, an ack timer that never fires) used to hang the
whole run. This plugin bounds the asyncio side itself:

* An async test's coroutine runs in a task of its own with the item's timeout: the
  ``@pytest.mark.timeout(N)`` marker, else ``--timeout``, ``PYTEST_TIMEOUT`` or the ini
  ``timeout``. When it runs over, the task is cancelled and the test fails with its node id
  and the chain of awaits it was stuck in; the run goes on with the next test.
* Each step of an async fixture — its setup, and its teardown after ``yield`` — gets the
  same bound, so a fixture that hangs fails the test that asked for it.
* pytest-timeout's ``thread`` method stays as the backstop for what no asyncio timer can
  interrupt: a blocked loop, a sync test that hangs, cleanup that swallows cancellation. At
  ``2 × timeout + timeout_backstop_margin`` seconds for the whole item it prints the test's
  node id and every thread's stack, then ends the process.

``timeout = 0`` (or ``--timeout=0``) switches all of it off, as it does pytest-timeout.
Register it with ``pytest_plugins = ["support.timeouts"]``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import linecache
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar

import pytest
import pytest_timeout  # type: ignore[import-untyped]

__all__ = [
    "await_chain",
    "pytest_addoption",
    "pytest_fixture_setup",
    "pytest_runtest_call",
    "pytest_timeout_set_timer",
]

T = TypeVar("T")

_LIMIT = pytest.StashKey[float]()
"""The item's timeout in seconds, stashed when pytest-timeout sets its timer."""

_CANCEL_GRACE_S = 5.0
"""How long a cancelled test may take to unwind before it is reported as stuck there too."""

_MARGIN_INI = "timeout_backstop_margin"
_DEFAULT_MARGIN_S = 10.0


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the backstop margin (the rest comes from pytest-timeout's options)."""
    parser.addini(
        _MARGIN_INI,
        "Seconds added to 2 x timeout before the thread backstop ends the process.",
        default=str(_DEFAULT_MARGIN_S),
    )


# -- the backstop --------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool:
    """Remember the item's timeout for the asyncio bounds; arm the thread backstop later.

    pytest-timeout calls this (a first-result hook) before the item's setup. Its own timer
    is armed here with the ``thread`` method and a longer delay, so the asyncio bound always
    fires first when it can, and the backstop names the test before ending the process.
    """
    timeout = float(settings.timeout)
    item.stash[_LIMIT] = timeout
    margin = float(item.config.getini(_MARGIN_INI))
    backstop = settings._replace(timeout=2 * timeout + margin, method="thread")

    def last_resort() -> None:
        capture = item.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:  # write past pytest's capture, as pytest-timeout does next
            capture.suspend_global_capture(in_=False)
        terminal = item.config.get_terminal_writer()
        terminal.line(
            f"\nTIMEOUT (backstop): {item.nodeid} still running after {backstop.timeout:g}s;"
            " no asyncio timeout could stop it (blocked loop or sync hang)."
            " Stacks follow, then the process ends.",
            red=True,
            bold=True,
        )
        pytest_timeout.timeout_timer(item, backstop)

    timer = threading.Timer(backstop.timeout, last_resort)
    timer.name = f"backstop {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # read by pytest-timeout
    timer.start()
    return True


def _limit_for(node: pytest.Item | None, config: pytest.Config) -> float | None:
    """The asyncio bound for ``node`` (or for a broader-scoped fixture), None when off."""
    if node is not None and _LIMIT in node.stash:
        limit = node.stash[_LIMIT]
    else:
        limit = pytest_timeout.get_env_settings(config).timeout
    return limit if limit else None


# -- bounding one await -------------------------------------------------------------------


def await_chain(awaitable: object) -> list[str]:
    """Where a suspended coroutine waits: ``file:line  code`` for each frame, outermost first.

    ``Task.get_stack`` shows only the outermost frame of a suspended task; following
    ``cr_await`` (and ``ag_await`` / ``gi_yieldfrom``) reaches the await that never returned.
    """
    lines: list[str] = []
    current: Any = awaitable
    while current is not None:
        frame = (
            getattr(current, "cr_frame", None)
            or getattr(current, "ag_frame", None)
            or getattr(current, "gi_frame", None)
        )
        if frame is None:
            if isinstance(current, asyncio.Future):
                lines.append(f"  awaiting {current!r}")
            break
        code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
        lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno}  {code}")
        current = (
            getattr(current, "cr_await", None)
            or getattr(current, "ag_await", None)
            or getattr(current, "gi_yieldfrom", None)
        )
    return lines


async def _within(
    limit: float, what: str, awaitable: Coroutine[Any, Any, T], watch: object = None
) -> T:
    """Await ``awaitable`` in its own task; past ``limit`` seconds cancel it and fail ``what``.

    A separate task (rather than ``asyncio.timeout`` around the await) lets the failure say
    where the coroutine was stuck (in ``watch``, by default ``awaitable`` itself), and
    bounds the unwinding that follows the cancellation.
    """
    watch = awaitable if watch is None else watch
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
    except BaseException:  # the runner itself is being cancelled (Ctrl-C): pass it on
        task.cancel()
        raise
    if task in done:
        return task.result()
    where = await_chain(watch)
    task.cancel(f"{what} ran over its {limit:g}s timeout")
    done, _ = await asyncio.wait({task}, timeout=_CANCEL_GRACE_S)
    report = [f"{what} did not finish within {limit:g}s (per-test timeout); it was waiting at:"]
    report += where or ["  (no frame: the task had not started)"]
    if task not in done:
        report.append(f"and it did not unwind within {_CANCEL_GRACE_S:g}s of being cancelled:")
        report += await_chain(watch)
    elif not task.cancelled() and task.exception() is not None:
        report.append(f"unwinding raised: {task.exception()!r}")
    pytest.fail("\n".join(report), pytrace=False)


# -- async tests ------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Give an async test's coroutine to pytest-asyncio already wrapped in its bound."""
    limit = _limit_for(item, item.config)
    target = _async_target(item) if limit is not None else None
    if target is None or limit is None:
        return (yield)
    owner, attribute, function = target

    @functools.wraps(function)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        return await _within(limit, item.nodeid, function(*args, **kwargs))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owner, attribute, bounded)
        return (yield)


def _async_target(item: pytest.Item) -> tuple[object, str, Callable[..., Any]] | None:
    """The coroutine function pytest-asyncio will run for ``item``, and where it lives."""
    function = getattr(item, "obj", None)
    if inspect.iscoroutinefunction(function):
        return item, "obj", function
    inner = getattr(getattr(function, "hypothesis", None), "inner_test", None)
    if inspect.iscoroutinefunction(inner):  # @given on an async test: bound each example
        return function.hypothesis, "inner_test", inner  # type: ignore[union-attr]
    return None


# -- async fixtures ---------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Bound each step of an async fixture before pytest-asyncio synchronises it.

    ``tryfirst`` makes this the outermost wrapper, so pytest-asyncio (inside) sees the
    bounded function, which keeps the original's kind (coroutine or async generator
    function) and signature.
    """
    function = fixturedef.func
    node = request.node if isinstance(request.node, pytest.Item) else None
    limit = _limit_for(node, request.config)
    if limit is None:
        return (yield)
    name = f"fixture {fixturedef.argname!r}"
    bounded: Callable[..., Any]
    if inspect.isasyncgenfunction(function):
        bounded = _bounded_generator(function, limit, name)
    elif inspect.iscoroutinefunction(function):
        bounded = _bounded_coroutine(function, limit, name)
    else:
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fixturedef, "func", bounded)
        return (yield)


def _bounded_coroutine(
    function: Callable[..., Coroutine[Any, Any, T]], limit: float, name: str
) -> Callable[..., Awaitable[T]]:
    @functools.wraps(function)
    async def bounded(*args: Any, **kwargs: Any) -> T:
        return await _within(limit, f"setup of {name}", function(*args, **kwargs))

    return bounded


def _bounded_generator(
    function: Callable[..., AsyncGenerator[T, None]], limit: float, name: str
) -> Callable[..., AsyncGenerator[T, None]]:
    @functools.wraps(function)
    async def bounded(*args: Any, **kwargs: Any) -> AsyncGenerator[T, None]:
        steps = function(*args, **kwargs)
        value = await _within(limit, f"setup of {name}", _step(steps), steps)
        yield value
        try:
            await _within(limit, f"teardown of {name}", _step(steps), steps)
        except StopAsyncIteration:
            return
        raise ValueError(f"{name} yielded more than once")  # as pytest-asyncio says it

    return bounded


async def _step(steps: AsyncGenerator[T, None]) -> T:
    """One ``__anext__``, as a coroutine a task can run."""
    return await steps.__anext__()
