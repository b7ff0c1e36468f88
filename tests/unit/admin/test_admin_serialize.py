"""Sockets in the shape the admin UI reads, from any node's fetch_sockets snapshot."""

from __future__ import annotations

import re

from baatcheet._types import Room, SocketId
from baatcheet.adapters.adapter_memory import MemoryAdapter
from baatcheet.adapters.base import SocketSnapshot
from baatcheet.admin.serialize import now_iso, serialize_remote
from baatcheet.sio.broadcast import RemoteSocket
from baatcheet.sio.namespace import Namespace


def _remote(handshake: dict[str, object], data: dict[str, object]) -> RemoteSocket:
    snapshot = SocketSnapshot(
        id=SocketId("abc"),
        handshake=handshake,
        rooms=frozenset({Room("abc"), Room("r")}),
        data=data,
    )
    return RemoteSocket(Namespace("/chat", MemoryAdapter), snapshot)


def test_a_snapshot_becomes_the_ui_socket_without_the_admin_bookkeeping() -> None:
    handshake = {
        "headers": {"x-forwarded-for": "203.0.113.9", "host": "h"},
        "address": "127.0.0.1",
        "query": {"EIO": "4"},
        "issued": 1_700_000_000_000,
        "secure": False,
        "time": "Tue, 14 Nov 2023 22:13:20 GMT",
        "url": "/socket.io/?EIO=4",
        "xdomain": True,
        "auth": {"token": "secret"},
    }
    data = {"user": {"id": 1}, "_admin": {"clientId": "0123456789ab", "transport": "websocket"}}
    shown = serialize_remote(_remote(handshake, data), "/chat")
    assert shown["id"] == "abc" and shown["nsp"] == "/chat"
    assert (shown["clientId"], shown["transport"]) == ("0123456789ab", "websocket")
    assert shown["data"] == {"user": {"id": 1}}
    assert shown["rooms"] == ["abc", "r"]
    assert shown["handshake"]["address"] == "203.0.113.9"
    assert "auth" not in shown["handshake"]  # credentials stay on the server


def test_a_socket_from_a_node_without_admin_data_still_serializes() -> None:
    shown = serialize_remote(_remote({"address": "10.0.0.1"}, {}), "/")
    assert shown["clientId"] is None and shown["handshake"]["address"] == "10.0.0.1"


def test_dates_are_written_as_javascript_writes_them() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now_iso())
