"""Run one fuzz target for many inputs, outside pytest; ``scripts/fuzz`` calls this.

::

    python tests/fuzz/drive.py --list
    python tests/fuzz/drive.py TARGET INPUTS [--engine atheris|random] [--artifacts DIR]

A target is one Hypothesis test of ``tests/fuzz/test_fuzz_*.py``, named
``<module>.<function>`` without the ``test_fuzz_`` / ``test_`` prefixes. Its
``fuzz_one_input`` turns a byte buffer into the test's structured arguments, so the same
strategies that CI samples are here driven by:

* ``atheris`` (the default when it is installed): libFuzzer, guided by line coverage of
  ``baatcheet``. It prints ``stat::number_of_executed_units: N`` at the end and, on a
  failure, the traceback and a ``crash-*`` file under ``--artifacts``.
* ``random``: uniformly random buffers, for machines without atheris.

Either way a failure prints ``FUZZ-FAILURE <target>``, the arguments Hypothesis drew from
the failing buffer, and the traceback, and exits non-zero; Hypothesis also saves the
failure in its example database, so the next ``pytest tests/fuzz`` replays and shrinks it.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

FUZZ_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(FUZZ_DIR.parent), str(FUZZ_DIR)]  # as pytest sees them: support.*, test_*

try:
    import atheris  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover - atheris is a dev dependency, but optional here
    atheris = None


def _modules() -> Iterator[ModuleType]:
    for path in sorted(FUZZ_DIR.glob("test_fuzz_*.py")):
        yield importlib.import_module(path.stem)


def _targets() -> dict[str, Any]:
    """Target name → the Hypothesis test it runs."""
    found = {}
    for module in _modules():
        for name, test in vars(module).items():
            if name.startswith("test_") and hasattr(test, "hypothesis"):
                short = module.__name__.removeprefix("test_fuzz_")
                found[f"{short}.{name.removeprefix('test_')}"] = test
    return found


def _one_input(name: str, test: Any, report_after: int | None) -> Callable[[bytes], None]:
    """The fuzz callback: one buffer through ``test``, its arguments shown if it fails.

    ``report_after``: print the run counts after this many calls (libFuzzer exits the
    process without running ``atexit`` handlers).
    """
    inner = test.hypothesis.inner_test
    last: list[tuple[tuple[Any, ...], dict[str, Any]] | None] = [None]

    def recording(*args: Any, **kwargs: Any) -> Any:
        last[0] = (args, kwargs)  # kept, not formatted: formatting every input would cost
        return inner(*args, **kwargs)

    # Before the first access of fuzz_one_input, which captures inner_test once.
    test.hypothesis.inner_test = recording
    fuzz = test.hypothesis.fuzz_one_input
    calls = 0

    def one_input(data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == report_after:
            _report_runs()
        last[0] = None
        try:
            fuzz(data)
        except Exception:
            if last[0] is None:  # the strategies themselves failed: a bug in the target
                shown = "(none: it failed while drawing the input from the buffer)"
            else:
                args, kwargs = last[0]
                shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            print(f"\nFUZZ-FAILURE {name}\ninput: {shown}", file=sys.stderr)
            traceback.print_exc()
            sys.stderr.flush()
            raise

    return one_input


def _report_runs() -> None:
    """How many inputs reached the test body (a buffer too short for the strategies does not)."""
    # Looked up, not imported at the top: support.fuzzing imports baatcheet, which must be
    # imported under atheris's instrumentation first.
    runs = sys.modules["support.fuzzing"].RUNS
    for name, count in sorted(runs.items()):
        print(f"fuzz-runs {name} {count}", file=sys.stderr)
    sys.stderr.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?")
    parser.add_argument("inputs", nargs="?", type=int, default=10_000)
    parser.add_argument("--list", action="store_true", help="print the target names")
    parser.add_argument("--engine", choices=["atheris", "random"], default=None)
    parser.add_argument("--artifacts", type=Path, default=Path("fuzz-artifacts"))
    args = parser.parse_args()
    engine = args.engine or ("atheris" if atheris is not None else "random")

    if args.list:
        print("\n".join(_targets()))
        return 0
    if engine == "atheris":
        if atheris is None:
            parser.error("atheris is not installed; use --engine random")
        with atheris.instrument_imports(include=["baatcheet"]):
            targets = _targets()
    else:
        targets = _targets()
    if args.target not in targets:
        parser.error(f"unknown target {args.target!r}; --list shows them")
    if engine == "atheris":
        one_input = _one_input(args.target, targets[args.target], args.inputs)
    else:
        one_input = _one_input(args.target, targets[args.target], None)
        atexit.register(_report_runs)

    if engine == "atheris":
        args.artifacts.mkdir(parents=True, exist_ok=True)
        atheris.Setup(
            [
                sys.argv[0],
                f"-runs={args.inputs}",
                "-print_final_stats=1",
                "-max_len=4096",
                "-len_control=0",
                "-timeout=60",
                "-rss_limit_mb=4096",
                f"-artifact_prefix={args.artifacts}/{args.target}-",
            ],
            one_input,
        )
        atheris.Fuzz()  # exits the process when the runs are done or on a failure
        return 0
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    started = time.monotonic()
    for _ in range(args.inputs):
        one_input(rng.randbytes(rng.randrange(1, 4096)))
    elapsed = time.monotonic() - started
    print(f"stat::number_of_executed_units: {args.inputs}  ({elapsed:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
