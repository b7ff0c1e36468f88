"""The /admin namespace as the official client (and so the admin UI) sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import bcrypt
import pytest

from baatcheet.admin import AdminUI, instrument
from baatcheet.sio import Server
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(60)

PASSWORD = "s3cret-admin"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


@pytest.fixture
async def admin_server(running_server: Any) -> AsyncIterator[tuple[Server, AdminUI]]:
    """A server instrumented in development mode, with one extra namespace to watch."""
    server: Server = await running_server(
        admin_ui=True, admin_username="root", admin_password_hash=HASH
    )
    server.of("/game")
    admin = instrument(server)
    yield server, admin
    await admin.close()


async def test_wrong_password_is_refused_with_the_message_the_ui_expects(
    js: JsDriver, admin_server: tuple[Server, AdminUI]
) -> None:
    server, _ = admin_server
    client = await js.connect(
        f"http://127.0.0.1:{server.port}/admin",
        auth={"username": "root", "password": "wrong"},
        reconnection=False,
    )
    error = await client.wait("connect_error")
    assert error["message"] == "invalid credentials"
    await client.assert_silent("connect")


async def test_right_password_gets_a_session_then_config_then_stats(
    js: JsDriver, admin_server: tuple[Server, AdminUI]
) -> None:
    server, _ = admin_server
    url = f"http://127.0.0.1:{server.port}"
    player = await js.connect(f"{url}/game", transports=["websocket"])
    await player.wait("connect")
    client = await js.connect(f"{url}/admin", auth={"username": "root", "password": PASSWORD})
    (session_id,) = await client.next_event("session")
    assert isinstance(session_id, str) and len(session_id) == 16
    await client.wait("connect")
    (config,) = await client.next_event("config")
    assert "JOIN" in config["supportedFeatures"]
    assert "ALL_EVENTS" in config["supportedFeatures"]
    (sockets,) = await client.next_event("all_sockets")
    game = [socket for socket in sockets if socket["nsp"] == "/game"]
    assert len(game) == 1 and game[0]["rooms"] == [game[0]["id"]]
    assert game[0]["transport"] == "websocket"
    (stats,) = await client.next_event("server_stats", timeout=5)
    assert stats["clientsCount"] == 2
    assert {"name": "/game", "socketsCount": 1} in stats["namespaces"]
    assert {"pid", "hostname", "serverId", "uptime", "aggregatedEvents"} <= stats.keys()

    # The session id alone logs in again, with no new session.
    again = await js.connect(f"{url}/admin", auth={"sessionId": session_id})
    await again.wait("connect")
    (config,) = await again.next_event("config")
    assert config["supportedFeatures"]


async def test_commands_join_and_disconnect_sockets_and_are_reported(
    js: JsDriver, admin_server: tuple[Server, AdminUI]
) -> None:
    server, _ = admin_server
    url = f"http://127.0.0.1:{server.port}"
    admin = await js.connect(f"{url}/admin", auth={"username": "root", "password": PASSWORD})
    await admin.next_event("all_sockets")
    player = await js.connect(f"{url}/game", transports=["websocket"])
    await player.wait("connect")
    socket, _date = await admin.next_event("socket_connected")
    if socket["nsp"] == "/admin":  # the admin socket's own connection is reported too
        socket, _date = await admin.next_event("socket_connected")
    assert socket["nsp"] == "/game"
    await player.emit("move", 3)
    assert (await admin.next_event("event_received"))[:3] == ["/game", socket["id"], ["move", 3]]
    server.namespaces["/game"].sockets[socket["id"]].emit("your turn", 4)
    assert (await admin.next_event("event_sent"))[:3] == ["/game", socket["id"], ["your turn", 4]]

    await admin.emit("join", "/game", "lobby", socket["id"])
    assert (await admin.next_event("room_joined"))[:3] == ["/game", "lobby", socket["id"]]
    remote = await server.namespaces["/game"].fetch_sockets()
    for _ in range(50):
        if "lobby" in (remote[0].rooms if remote else set()):
            break
        remote = await server.namespaces["/game"].fetch_sockets()
    assert "lobby" in remote[0].rooms
    await admin.emit("leave", "/game", "lobby", socket["id"])
    assert (await admin.next_event("room_left"))[:3] == ["/game", "lobby", socket["id"]]

    await admin.emit("_disconnect", "/game", True, socket["id"])
    await player.wait("disconnect")
    nsp, sid, reason, _date = await admin.next_event("socket_disconnected")
    assert (nsp, sid) == ("/game", socket["id"])
    assert reason in {"transport close", "forced close", "server namespace disconnect"}


async def test_read_only_mode_offers_no_commands(js: JsDriver, running_server: Any) -> None:
    server: Server = await running_server(
        admin_ui=True,
        admin_username="root",
        admin_password_hash=HASH,
        admin_readonly=True,
        admin_mode="production",
    )
    admin = instrument(server)
    try:
        client = await js.connect(
            f"http://127.0.0.1:{server.port}/admin",
            auth={"username": "root", "password": PASSWORD},
        )
        (config,) = await client.next_event("config")
        assert config["supportedFeatures"] == ["AGGREGATED_EVENTS"]
        await client.assert_silent("event", within=0.3, name="all_sockets")
    finally:
        await admin.close()


async def test_a_cluster_reports_every_node_to_an_admin_socket_on_one_of_them(
    js: JsDriver, running_server: Any, redis_url: str
) -> None:
    fields = {
        "admin_ui": True,
        "admin_username": "root",
        "admin_password_hash": HASH,
        "redis_url": redis_url,
    }
    first: Server = await running_server(**fields)
    second: Server = await running_server(**fields)
    admins = [instrument(first), instrument(second)]
    try:
        for server in (first, second):
            await server.of("/game").ensure_ready()
            await admins[0 if server is first else 1].namespace.ensure_ready()
        far = await js.connect(f"http://127.0.0.1:{second.port}/game", transports=["websocket"])
        await far.wait("connect")
        admin = await js.connect(
            f"http://127.0.0.1:{first.port}/admin", auth={"username": "root", "password": PASSWORD}
        )
        (sockets,) = await admin.next_event("all_sockets")
        assert [socket["nsp"] for socket in sockets].count("/game") == 1
        servers: set[str] = set()
        for _ in range(6):
            (stats,) = await admin.next_event("server_stats", timeout=5)
            servers.add(stats["serverId"])
        assert {server_id.rsplit(":", 1)[1] for server_id in servers} == {
            str(first.port),
            str(second.port),
        }
        (game,) = [socket for socket in sockets if socket["nsp"] == "/game"]
        await admin.emit("_disconnect", "/game", False, game["id"])
        await far.wait("disconnect")
    finally:
        for admin_ui in admins:
            await admin_ui.close()
