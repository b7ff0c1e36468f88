"""pytest fixtures for testing a Baatcheet server, registered as the ``baatcheet`` plugin.

Installing baatcheet registers this module with pytest (entry point ``pytest11``), so any
test in a project that has baatcheet installed can ask for:

* ``baatcheet_settings`` — the :class:`~baatcheet.settings.Settings` of the server under
  test: loopback, a free port, the garbage-collector tuning off (it is process-wide).
  Override it to change options.
* ``baatcheet_app`` — the :class:`~baatcheet.sio.Server` under test, not started.
  Override it to return your own server, handlers and middleware installed.
* ``baatcheet_server`` — ``baatcheet_app`` started on its port; shut down after the test.
* ``baatcheet_url`` — ``http://127.0.0.1:<port>`` of ``baatcheet_server``.
* ``baatcheet_connect`` — ``await baatcheet_connect(namespace, auth=..., **options)``
  returns a connected :class:`~baatcheet.client.SocketIOClient`; every client it made is
  disconnected after the test.
* ``baatcheet_client`` — one client connected to ``/`` over WebSocket.
* ``baatcheet_connect_in_memory`` — ``await baatcheet_connect_in_memory(namespace,
  auth=...)`` returns a :class:`~baatcheet.testing.TestClient` connected to
  ``baatcheet_app`` without any network (the server need not be started); each is
  disconnected after the test.

The fixtures are ``async``: they need pytest-asyncio (``baatcheet[testing]`` installs
it). baatcheet itself is imported only when a fixture runs, so merely having the plugin
installed costs other test suites nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # the fixtures then say what is missing when used
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from baatcheet.client import SocketIOClient
    from baatcheet.settings import Settings
    from baatcheet.sio import Server
    from baatcheet.testing.memory_client import TestClient

__all__ = [
    "ClientFactory",
    "TestClientFactory",
    "baatcheet_app",
    "baatcheet_client",
    "baatcheet_connect",
    "baatcheet_connect_in_memory",
    "baatcheet_server",
    "baatcheet_settings",
    "baatcheet_url",
]

ClientFactory = Callable[..., Awaitable["SocketIOClient"]]
"""``await baatcheet_connect(namespace="/", *, auth=None, **options)`` → a connected client."""
TestClientFactory = Callable[..., Awaitable["TestClient"]]
"""``await baatcheet_connect_in_memory(namespace="/", auth=None, **options)`` → a TestClient."""

_SHUTDOWN_GRACE_S = 2.0
"""How long teardown lets connections close before cutting them."""

F = Callable[..., Any]


def _async_fixture(function: F) -> Any:
    """``pytest_asyncio.fixture`` (works in strict and auto mode), or an explanation."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(function)

    def missing() -> None:
        pytest.fail(f"{function.__name__} needs pytest-asyncio: pip install pytest-asyncio")

    return pytest.fixture(name=function.__name__)(missing)


@pytest.fixture
def baatcheet_settings() -> Settings:
    """Settings of the server under test (override this fixture to change options)."""
    from baatcheet.settings import Settings  # noqa: PLC0415 - imported only when used

    return Settings(host="127.0.0.1", port=0, tune_gc=False)


@pytest.fixture
def baatcheet_app(baatcheet_settings: Settings) -> Server:
    """The server under test, not started (override this fixture to install handlers)."""
    from baatcheet.sio import Server  # noqa: PLC0415 - imported only when used

    return Server(baatcheet_settings)


@_async_fixture
async def baatcheet_server(baatcheet_app: Server) -> AsyncIterator[Server]:
    """``baatcheet_app`` listening on its port for the test; shut down afterwards."""
    await baatcheet_app.start()
    try:
        yield baatcheet_app
    finally:
        await baatcheet_app.shutdown(grace=_SHUTDOWN_GRACE_S)


@pytest.fixture
def baatcheet_url(baatcheet_server: Server) -> str:
    """The base URL of ``baatcheet_server``."""
    return f"http://127.0.0.1:{baatcheet_server.port}"


@_async_fixture
async def baatcheet_connect(baatcheet_url: str) -> AsyncIterator[ClientFactory]:
    """A factory of clients connected to ``baatcheet_server``, disconnected after the test.

    ``await baatcheet_connect("/chat", auth={"token": t})``; further keyword arguments go to
    :class:`~baatcheet.client.SocketIOClient` (``transports`` defaults to WebSocket only,
    ``reconnection`` to off, so a test sees exactly the connections it makes).
    """
    from baatcheet.client import SocketIOClient  # noqa: PLC0415 - imported only when used

    made: list[SocketIOClient] = []

    async def connect(namespace: str = "/", *, auth: Any = None, **options: Any) -> SocketIOClient:
        options.setdefault("transports", ["websocket"])
        options.setdefault("reconnection", False)
        client = SocketIOClient(baatcheet_url, namespaces=[namespace], auth=auth, **options)
        made.append(client)
        await client.connect()
        return client

    try:
        yield connect
    finally:
        for client in reversed(made):
            await client.disconnect()


@_async_fixture
async def baatcheet_client(baatcheet_connect: ClientFactory) -> SocketIOClient:
    """A client connected to ``/`` of ``baatcheet_server`` over WebSocket."""
    return await baatcheet_connect()


@_async_fixture
async def baatcheet_connect_in_memory(baatcheet_app: Server) -> AsyncIterator[TestClientFactory]:
    """A factory of in-memory clients of ``baatcheet_app``, disconnected after the test.

    ``await baatcheet_connect_in_memory("/chat", auth={"token": t})``; further keyword
    arguments go to :func:`~baatcheet.testing.connect_test_client` (``headers``,
    ``query``, ``address``, ``timeout``).
    """
    from baatcheet.testing.memory_client import connect_test_client  # noqa: PLC0415

    made: list[TestClient] = []

    async def connect(namespace: str = "/", auth: Any = None, **options: Any) -> TestClient:
        client = await connect_test_client(baatcheet_app, namespace, auth, **options)
        made.append(client)
        return client

    try:
        yield connect
    finally:
        for client in reversed(made):
            await client.client.disconnect()
