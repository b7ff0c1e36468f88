"""The pytest plugin's fixtures: a real server on a free port and real clients of it.

The plugin is loaded through its ``pytest11`` entry point, as in any project that
installs baatcheet; this module overrides ``baatcheet_app`` exactly as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from baatcheet.client import SocketIOClient
from baatcheet.errors import ConnectRejected
from baatcheet.settings import Settings
from baatcheet.sio import Namespace, Server, Socket
from baatcheet.testing import plugin
from baatcheet.testing.plugin import ClientFactory, TestClientFactory

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def baatcheet_app(baatcheet_settings: Settings) -> Server:
    server = Server(baatcheet_settings)
    server.on("connection", lambda socket: socket.on("echo", lambda *args: args))
    admin: Namespace = server.of("/admin")

    @admin.use
    def admins_only(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "root":
            raise ConnectRejected("admins only", {"code": "forbidden"})

    admin.on("connection", lambda socket: socket.on("whoami", lambda: "admin"))
    return server


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.get_plugin("baatcheet") is plugin


async def test_the_client_fixture_is_connected_to_the_server_fixture_over_websocket(
    baatcheet_server: Server, baatcheet_client: SocketIOClient
) -> None:
    assert baatcheet_client.connected
    assert baatcheet_client.transport == "websocket"
    assert await baatcheet_client.emit_with_ack("echo", b"\x01", "two") == [b"\x01", "two"]
    assert set(baatcheet_server.main.sockets) == {baatcheet_client.sid}


async def test_the_factory_connects_namespaces_with_auth_and_passes_refusals_on(
    baatcheet_connect: ClientFactory,
) -> None:
    admin = await baatcheet_connect("/admin", auth={"token": "root"}, transports=["polling"])
    assert await admin.emit_with_ack("whoami") == ["admin"]
    with pytest.raises(ConnectRejected) as refused:
        await baatcheet_connect("/admin", auth={"token": "guest"})
    assert refused.value.data == {"code": "forbidden"}


async def test_the_same_app_serves_in_memory_clients_and_network_clients(
    baatcheet_server: Server,
    baatcheet_client: SocketIOClient,
    baatcheet_connect_in_memory: TestClientFactory,
) -> None:
    in_memory = await baatcheet_connect_in_memory()
    assert await in_memory.emit_with_ack("echo", "memory") == ["memory"]
    assert set(baatcheet_server.main.sockets) == {baatcheet_client.sid, in_memory.id}


def test_an_outside_project_gets_the_fixtures_in_strict_mode(tmp_path: Path) -> None:
    (tmp_path / "test_outside.py").write_text(
        textwrap.dedent(
            """
            import pytest

            from baatcheet.settings import Settings
            from baatcheet.sio import Server


            @pytest.fixture
            def baatcheet_app(baatcheet_settings: Settings) -> Server:
                server = Server(baatcheet_settings)

                @server.on("connection")
                def on_connection(socket):
                    socket.on("chat message", lambda text: server.emit("chat message", text))
                    socket.on("updateItem", lambda item: {"status": "ok"})

                return server


            @pytest.mark.asyncio
            async def test_over_the_network(baatcheet_client):
                assert await baatcheet_client.emit_with_ack("updateItem", {"id": 1}) == [
                    {"status": "ok"}
                ]


            @pytest.mark.asyncio
            async def test_in_memory(baatcheet_connect_in_memory):
                alice = await baatcheet_connect_in_memory()
                bob = await baatcheet_connect_in_memory()
                alice.emit("chat message", "hi")
                assert await bob.next_event("chat message") == ["hi"]
            """
        )
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "-o",
            "asyncio_mode=strict",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "test_outside.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
