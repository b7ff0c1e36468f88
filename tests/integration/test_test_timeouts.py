"""The suite's per-test timeouts fire on uvloop: a hung test fails alone and the run goes on.

Each test writes a small test module into a temporary folder, with a conftest that runs it
on uvloop under ``support.timeouts`` as ``tests/conftest.py`` does, and runs pytest on it in
a subprocess: only a subprocess can show that a hang does not take the whole run with it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.paths import REPO_ROOT

pytestmark = pytest.mark.timeout(90)

_CONFTEST = """
import uvloop

pytest_plugins = ["support.timeouts"]


def pytest_asyncio_loop_factories(config, item):
    return {"uvloop": uvloop.new_event_loop}
"""

_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
timeout = {timeout}
timeout_backstop_margin = {margin}
"""

_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR) (\S+?\.py::\w+)", re.MULTILINE)


@dataclass
class Run:
    """What one pytest subprocess printed and how it ended."""

    returncode: int
    output: str

    def outcomes(self) -> dict[str, set[str]]:
        """Test name → the outcomes pytest's ``-rA`` summary lists for it."""
        found: dict[str, set[str]] = {}
        for outcome, nodeid in _OUTCOME.findall(self.output):
            found.setdefault(nodeid.split("::")[1], set()).add(outcome)
        return found


def _run_pytest(tmp_path: Path, body: str, *, timeout: float, margin: float = 10.0) -> Run:
    (tmp_path / "conftest.py").write_text(_CONFTEST)
    (tmp_path / "pytest.ini").write_text(_INI.format(timeout=timeout, margin=margin))
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(body))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTEST_ADDOPTS", "PYTEST_TIMEOUT")
    }
    env["PYTHONPATH"] = str(REPO_ROOT / "tests")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "test_sample.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(done.returncode, done.stdout + done.stderr)


def test_a_hung_async_test_fails_by_name_and_the_next_test_still_passes(tmp_path: Path) -> None:
    run = _run_pytest(
        tmp_path,
        """
        import asyncio

        async def test_waits_for_a_wakeup_that_never_comes():
            await asyncio.Event().wait()

        async def test_after_the_hang():
            await asyncio.sleep(0)
        """,
        timeout=0.5,
    )
    assert run.outcomes() == {
        "test_waits_for_a_wakeup_that_never_comes": {"FAILED"},
        "test_after_the_hang": {"PASSED"},
    }, run.output
    assert run.returncode == 1, run.output
    assert "did not finish within 0.5s (per-test timeout); it was waiting at:" in run.output
    # The failure shows the await that never returned, not just the test's name.
    assert "test_sample.py:5  await asyncio.Event().wait()" in run.output


def test_the_timeout_marker_overrides_the_ini_default_both_ways(tmp_path: Path) -> None:
    run = _run_pytest(
        tmp_path,
        """
        import asyncio
        import pytest

        @pytest.mark.timeout(0.3)
        async def test_a_shorter_marker_wins():
            await asyncio.sleep(1.5)

        @pytest.mark.timeout(5)
        async def test_a_longer_marker_wins():
            await asyncio.sleep(1.5)

        async def test_the_ini_default_applies_without_a_marker():
            await asyncio.sleep(1.5)
        """,
        timeout=1,
    )
    assert run.outcomes() == {
        "test_a_shorter_marker_wins": {"FAILED"},
        "test_a_longer_marker_wins": {"PASSED"},
        "test_the_ini_default_applies_without_a_marker": {"FAILED"},
    }, run.output
    assert "test_a_shorter_marker_wins did not finish within 0.3s" in run.output


def test_a_hung_async_fixture_setup_or_teardown_fails_the_test_that_used_it(
    tmp_path: Path,
) -> None:
    run = _run_pytest(
        tmp_path,
        """
        import asyncio
        import pytest

        @pytest.fixture
        async def never_ready():
            await asyncio.Event().wait()

        @pytest.fixture
        async def never_cleaned_up():
            yield "value"
            await asyncio.Event().wait()

        async def test_with_a_fixture_that_never_sets_up(never_ready):
            pass

        async def test_with_a_fixture_that_never_tears_down(never_cleaned_up):
            assert never_cleaned_up == "value"

        async def test_after_the_fixtures():
            pass
        """,
        timeout=0.5,
    )
    assert run.outcomes() == {
        "test_with_a_fixture_that_never_sets_up": {"ERROR"},
        # The test body passed; its teardown is reported as an error of its own.
        "test_with_a_fixture_that_never_tears_down": {"PASSED", "ERROR"},
        "test_after_the_fixtures": {"PASSED"},
    }, run.output
    assert "setup of fixture 'never_ready' did not finish within 0.5s" in run.output
    assert "teardown of fixture 'never_cleaned_up' did not finish within 0.5s" in run.output


def test_a_blocked_loop_meets_the_backstop_which_names_the_test_and_ends_the_run(
    tmp_path: Path,
) -> None:
    run = _run_pytest(
        tmp_path,
        """
        import time

        async def test_blocks_the_loop():
            time.sleep(30)  # no await: no asyncio timer can run

        def test_never_reached():
            pass
        """,
        timeout=0.3,
        margin=0.4,
    )
    assert run.returncode != 0
    assert "TIMEOUT (backstop): test_sample.py::test_blocks_the_loop still running after 1s" in (
        run.output
    )
    assert "time.sleep(30)" in run.output  # pytest-timeout's dump of the main thread
    assert "test_never_reached" not in run.output
