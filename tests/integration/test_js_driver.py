"""The JS client driver works, proven against Node's own socket.io 4.8 server.

These tests pin down the harness before Baatcheet's server exists: if one fails, the fault
is in tests/js/driver.mjs or support/jsclient.py, never in the server under test.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator

import pytest

from baatcheet.errors import AckTimeoutError
from support.jsclient import DriverError, JsDriver
from support.paths import JS_DIR

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def node_url() -> AsyncIterator[str]:
    """URL of /chat on the reference Node socket.io server, tests/js/echo_server.mjs."""
    node = shutil.which("node")
    assert node is not None, "node is not installed: run scripts/install"
    proc = await asyncio.create_subprocess_exec(
        node,
        "echo_server.mjs",
        cwd=JS_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert line, "the reference server exited before listening"
    port = json.loads(line)["port"]
    yield f"http://127.0.0.1:{port}/chat"
    proc.stdin.close()
    await asyncio.wait_for(proc.wait(), 10)


async def test_client_connects_over_polling_then_reports_the_websocket_upgrade(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url)
    connected = await client.wait("connect")
    assert isinstance(connected["sid"], str)
    assert (await client.wait("upgrade"))["transport"] == "websocket"
    assert (await client.state())["transport"] == "websocket"


async def test_server_events_arrive_with_their_binary_arguments_as_bytes(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"])
    connected = await client.wait("connect")
    assert connected["transport"] == "websocket"
    info, blob = await client.next_event("welcome")
    assert info == {"sid": connected["sid"]}
    assert blob == b"\x00\x01\x02\xff"


async def test_emit_with_ack_round_trips_nested_binary_and_text(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"])
    await client.wait("connect")
    args = ["héllo", {"raw": b"\x00\xfe", "list": [1, b"x"]}, None]
    assert await client.emit_with_ack("echo", *args) == args


async def test_emit_with_ack_raises_ack_timeout_when_the_server_never_answers(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"])
    await client.wait("connect")
    with pytest.raises(AckTimeoutError):
        await client.emit_with_ack("silent", 1, timeout=0.2)


async def test_ack_timeout_option_applies_to_every_emit_with_ack(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"], ack_timeout=200)
    await client.wait("connect")
    assert await client.emit_with_ack("echo", "still answered") == ["still answered"]
    with pytest.raises(AckTimeoutError, match=r"within 0\.2s"):
        await client.emit_with_ack("silent")


async def test_plain_emit_reaches_every_client_of_the_namespace(
    js: JsDriver, node_url: str
) -> None:
    alice = await js.connect(node_url, transports=["websocket"])
    bob = await js.connect(node_url, transports=["websocket"])
    await alice.wait("connect")
    await bob.wait("connect")
    await alice.emit("broadcast", "hi", b"\x07")
    assert await alice.next_event("news") == ["hi", b"\x07"]
    assert await bob.next_event("news") == ["hi", b"\x07"]


async def test_middleware_rejection_is_reported_as_connect_error_with_data(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, auth={"token": "bad"}, reconnection=False)
    error = await client.wait("connect_error")
    assert error["message"] == "invalid token"
    assert error["data"] == {"code": "invalid_token"}
    await client.assert_silent("connect")


async def test_configured_responder_answers_server_ack_requests(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"])
    await client.wait("connect")
    await client.on_ack("question", ["answer", b"\x01"])
    await client.emit("ask", {"event": "question", "args": [1], "timeout": 2000})
    asked = await client.wait("event", name="question")
    assert asked["args"] == [1]
    assert asked["answered"] is True
    assert await client.next_event("answer") == [{"args": ["answer", b"\x01"]}]


async def test_never_responder_lets_the_server_ack_time_out_until_answered_by_hand(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"])
    await client.wait("connect")
    await client.on_ack("question", "never")
    await client.emit("ask", {"event": "question", "args": [], "timeout": 200})
    asked = await client.wait("event", name="question")
    assert asked["answered"] is False
    assert await client.next_event("answer") == [{"error": "operation has timed out"}]
    await client.emit("ask", {"event": "question", "args": [], "timeout": 2000})
    second = await client.wait("event", name="question")
    await client.reply_ack(second["ack_id"], "late but fine")
    assert await client.next_event("answer") == [{"args": ["late but fine"]}]


async def test_server_disconnect_is_reported_with_its_reason(js: JsDriver, node_url: str) -> None:
    client = await js.connect(node_url, transports=["websocket"])
    await client.wait("connect")
    await client.emit("kick")
    assert (await client.wait("disconnect"))["reason"] == "io server disconnect"


async def test_client_disconnect_then_open_connects_again(js: JsDriver, node_url: str) -> None:
    client = await js.connect(node_url, transports=["websocket"])
    first = await client.wait("connect")
    await client.disconnect()
    assert (await client.wait("disconnect"))["reason"] == "io client disconnect"
    await client.open()
    second = await client.wait("connect")
    assert second["sid"] != first["sid"]


async def test_closing_the_engine_makes_the_client_reconnect(js: JsDriver, node_url: str) -> None:
    client = await js.connect(node_url, transports=["websocket"], reconnection_delay=50)
    await client.wait("connect")
    await client.close_engine()
    assert (await client.wait("disconnect"))["reason"] == "forced close"
    await client.wait("reconnect_attempt")
    await client.wait("reconnect")
    await client.wait("connect")


async def test_dropping_the_websocket_is_a_transport_close_followed_by_reconnection(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"], reconnection_delay=50)
    first = await client.wait("connect")
    await client.drop_transport()
    assert (await client.wait("disconnect"))["reason"] == "transport close"
    second = await client.wait("connect")
    assert second["sid"] != first["sid"]


async def test_a_client_that_stops_ponging_is_dropped_by_the_server_heartbeat(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"], reconnection=False)
    await client.wait("connect")
    await client.wait("ping")
    await client.stop_pong()
    disconnect = await client.wait("disconnect", timeout=3)
    assert disconnect["reason"] == "transport close"


async def test_raw_engine_packets_reach_the_server_over_websocket(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"])
    await client.wait("connect")
    await client.send_raw('42/chat,["broadcast","raw"]')
    assert await client.next_event("news") == ["raw"]


async def test_raw_payloads_reach_the_server_over_polling(js: JsDriver, node_url: str) -> None:
    client = await js.connect(node_url, transports=["polling"])
    await client.wait("connect")
    await client.send_raw('42/chat,["broadcast","raw"]')
    assert await client.next_event("news") == ["raw"]


async def test_a_malformed_raw_packet_makes_the_server_close_the_connection(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"], reconnection=False)
    await client.wait("connect")
    await client.send_raw("4{not a socket.io packet")
    assert (await client.wait("disconnect"))["reason"] == "transport close"


async def test_failed_wait_names_the_client_and_shows_what_it_saw(
    js: JsDriver, node_url: str
) -> None:
    client = await js.connect(node_url, transports=["websocket"], client_id="alice")
    await client.wait("connect")
    with pytest.raises(DriverError) as failure:
        await client.next_event("never-sent", timeout=0.2)
    message = str(failure.value)
    assert "'alice'" in message
    assert "never-sent" in message
    assert '"welcome"' in message


async def test_driver_refuses_commands_for_unknown_clients_with_a_clear_error(
    js: JsDriver,
) -> None:
    with pytest.raises(DriverError, match="no client named"):
        await js.command("emit", id="ghost", event="x", args=[])
