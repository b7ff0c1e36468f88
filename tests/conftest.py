"""Fixtures every test may use: real services, the JS client driver, a running server.

* ``postgres_url`` / ``redis_url`` (session): private PostgreSQL / Redis servers on free
  loopback ports. They fail, never skip, when the software is missing.
* ``js`` (function): a ``JsDriver`` hosting official socket.io-client sockets.
* ``running_server`` (function): ``await running_server(**settings)`` starts a
  ``baatcheet.sio.Server`` on a free port and shuts it down after the test.

Timeouts: ``support.timeouts`` (registered below) makes ``timeout`` / ``@pytest.mark.timeout``
fail a hung async test or async fixture on its own, by name, and keeps pytest-timeout's
thread method as the backstop that ends the run when nothing else can.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import uvloop

from baatcheet.settings import Settings
from support.factories import ServerFactory
from support.jsclient import JsDriver
from support.ports import free_port
from support.services import postgres_server, redis_server

# Per-test timeouts that fire on uvloop, with pytest-timeout's thread method as the backstop.
pytest_plugins = ["support.timeouts"]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """uvloop, as ``baatcheet serve`` uses: the tests exercise the loop users run.

    The stdlib loop also differs where it matters here: it creates an accepted
    connection's transport in a task one turn later, and if the server closes in between,
    that connection is leaked, open and unanswered, instead of being refused.
    """
    del config, item
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A ``postgresql+asyncpg://`` URL to an empty database for this test session.

    ``BAATCHEET_TEST_POSTGRES_URL`` points the suite at an existing database instead of
    starting a throwaway cluster.
    """
    existing = os.environ.get("BAATCHEET_TEST_POSTGRES_URL")
    if existing:
        yield existing
        return
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A ``redis://`` URL to a private, non-persistent Redis for this test session."""
    with redis_server() as url:
        yield url


@pytest.fixture
async def js() -> AsyncIterator[JsDriver]:
    """A Node process driving official socket.io-client sockets (closed after the test)."""
    async with JsDriver() as driver:
        yield driver


@pytest.fixture
async def running_server() -> AsyncIterator[ServerFactory]:
    """Factory starting in-process ``baatcheet.sio.Server`` instances on free ports.

    ``baatcheet.sio`` is imported only when a test asks for this fixture, so the rest of
    the suite runs while that layer is being written. Every server started is shut down
    after the test, newest first.
    """
    sio = importlib.import_module("baatcheet.sio")
    started: list[Any] = []

    async def start(**settings_fields: Any) -> Any:
        settings_fields.setdefault("port", free_port())
        server = sio.Server(Settings(**settings_fields))
        await server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        await server.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the real-browser tests last.

    Playwright's sync API keeps its own event loop alive in the main thread while the
    session-scoped browser is open; async tests must not run after it starts.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
