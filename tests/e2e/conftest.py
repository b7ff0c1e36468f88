"""Fixtures for the real-browser tests: the web build, ``baatcheet serve``, headless Chromium.

* ``web_build`` (session): makes sure ``src/baatcheet/static/web`` holds a build of ``web/``
  that is not older than its sources, running ``npm ci`` / ``npm run build`` when needed.
* ``server`` (function): a ``ServerProcess`` on a free port with a fresh SQLite file.
* ``browser`` (session): Debian's Chromium driven by Playwright. No browser is downloaded:
  ``BAATCHEET_CHROMIUM`` or ``/usr/bin/chromium`` is used, and its absence fails the test.
* ``new_user`` (function): ``new_user()`` opens a fresh browser context (its own storage, so
  its own login) on the server and returns a ``ChatPage``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from e2e.chat_page import ChatPage
from e2e.server_process import ServerProcess
from support.paths import REPO_ROOT, SETUP_HINT

WEB_DIR = REPO_ROOT / "web"
BUILD_INDEX = REPO_ROOT / "src" / "baatcheet" / "static" / "web" / "index.html"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECT_TIMEOUT_MS = 10_000


def _newest_source_mtime() -> float:
    sources = [WEB_DIR / "index.html", WEB_DIR / "package.json", WEB_DIR / "vite.config.ts"]
    sources += [p for p in (WEB_DIR / "src").rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in sources)


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"npm is needed to build the web client: {SETUP_HINT}")
    result = subprocess.run(
        [npm, *args], cwd=WEB_DIR, capture_output=True, text=True, check=False, timeout=300
    )
    if result.returncode != 0:
        pytest.fail(f"npm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def web_build() -> Path:
    """The built client's index.html, rebuilt first if ``web/`` changed since the last build."""
    if not BUILD_INDEX.exists() or BUILD_INDEX.stat().st_mtime < _newest_source_mtime():
        if not (WEB_DIR / "node_modules").exists():
            _npm("ci", "--no-audit", "--no-fund")
        _npm("run", "build")
    return BUILD_INDEX


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra ``BAATCHEET_*`` variables for ``server``; a module overrides it to change settings."""
    return {}


@pytest.fixture
def server(web_build: Path, tmp_path: Path, server_env: dict[str, str]) -> Iterator[ServerProcess]:
    """A running ``baatcheet serve`` with an empty database, stopped after the test."""
    process = ServerProcess(tmp_path, server_env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (never a downloaded one)."""
    executable = os.environ.get("BAATCHEET_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"Chromium not found at {executable}: {SETUP_HINT} (apt-get install chromium)")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_user(browser: Browser, server: ServerProcess) -> Iterator[Callable[[], ChatPage]]:
    """Factory of independent users, each in its own browser context, closed after the test."""
    contexts: list[BrowserContext] = []

    def open_context() -> ChatPage:
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return ChatPage(context.new_page(), server.url)

    yield open_context
    for context in contexts:
        context.close()
