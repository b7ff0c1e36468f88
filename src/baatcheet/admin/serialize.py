"""Sockets in the shape the admin UI reads (admin-ui's ``serialize``).

A socket may live on another node, so the UI's view is built from what
``fetch_sockets`` returns on every node: the engine id and transport travel in
``socket.data["_admin"]``, as Node keeps them, and are left out of the ``data`` shown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from baatcheet.sio.broadcast import RemoteSocket
from baatcheet.sio.socket import Socket

__all__ = ["ADMIN_KEY", "admin_data", "now_iso", "serialize_remote", "serialize_socket"]

ADMIN_KEY = "_admin"
"""The key of ``socket.data`` holding what the UI needs about a socket's connection."""


def now_iso() -> str:
    """Now as JavaScript's ``Date.toJSON`` writes it (the UI parses it back)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def admin_data(socket: Socket) -> dict[str, str]:
    """What ``socket.data["_admin"]`` holds: the first 12 chars of the engine id, the transport."""
    session = socket.client.session
    return {"clientId": session.sid[:12], "transport": str(session.transport)}


def _shown_data(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != ADMIN_KEY}


def _serialize(
    socket_id: str,
    nsp: str,
    handshake: dict[str, Any],
    rooms: list[str],
    data: dict[str, Any],
) -> dict[str, Any]:
    headers = handshake.get("headers") or {}
    admin = data.get(ADMIN_KEY) or {}
    address = (
        headers.get("cf-connecting-ip")
        or headers.get("x-forwarded-for")
        or handshake.get("address")
    )
    return {
        "id": socket_id,
        "clientId": admin.get("clientId"),
        "transport": admin.get("transport"),
        "nsp": nsp,
        "data": _shown_data(data),
        "handshake": {
            "address": address,
            "headers": headers,
            "query": handshake.get("query", {}),
            "issued": handshake.get("issued"),
            "secure": handshake.get("secure", False),
            "time": handshake.get("time"),
            "url": handshake.get("url"),
            "xdomain": handshake.get("xdomain", False),
        },
        "rooms": rooms,
    }


def serialize_socket(socket: Socket) -> dict[str, Any]:
    """A local socket as the UI's ``socket_connected`` carries it."""
    data = (
        socket.data if ADMIN_KEY in socket.data else {**socket.data, ADMIN_KEY: admin_data(socket)}
    )
    return _serialize(
        socket.id, socket.nsp.name, socket.handshake.to_json(), sorted(socket.rooms), data
    )


def serialize_remote(socket: RemoteSocket, nsp: str) -> dict[str, Any]:
    """A socket from ``fetch_sockets`` (any node) as the UI's ``all_sockets`` lists it."""
    data = socket.data if isinstance(socket.data, dict) else {}
    return _serialize(socket.id, nsp, socket.handshake, sorted(socket.rooms), data)
