"""Fuzz targets: ordinary Hypothesis tests whose budget ``BAATCHEET_FUZZ_EXAMPLES`` sets.

See ``support.fuzzing`` and ``scripts/fuzz``. At the end of a session that ran any target,
the count of inputs each target ran is printed (``fuzz-runs <target> <count>`` lines, which
``scripts/fuzz`` adds up).
"""

from __future__ import annotations

import pytest

from support.fuzzing import RUNS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many inputs each fuzz target ran in this process."""
    if not RUNS:
        return
    terminalreporter.section("fuzz inputs run")
    for target, count in sorted(RUNS.items()):
        terminalreporter.line(f"fuzz-runs {target} {count}")
    terminalreporter.line(f"fuzz-runs TOTAL {sum(RUNS.values())}")
