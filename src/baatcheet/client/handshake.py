"""The Engine.IO ``OPEN`` packet a server answers a new connection with, parsed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from baatcheet.errors import ProtocolError

__all__ = ["EngineHandshake"]


@dataclass(frozen=True, slots=True)
class EngineHandshake:
    """What the server said in its ``OPEN`` packet (spec: "Handshake").

    Attributes:
        sid: The Engine.IO session id; every later request of this session carries it.
        upgrades: Transports this session may upgrade to (``["websocket"]`` on polling).
        ping_interval: Seconds between the server's PINGs.
        ping_timeout: Seconds the server waits for our PONG; we allow the same extra time
            for its next PING before declaring it dead.
        max_payload: Largest long-polling POST body the server accepts, in bytes.
    """

    sid: str
    upgrades: tuple[str, ...]
    ping_interval: float
    ping_timeout: float
    max_payload: int

    @classmethod
    def parse(cls, data: str) -> EngineHandshake:
        """Read the JSON data of an ``OPEN`` packet.

        Raises:
            ProtocolError: The data is not the JSON object Engine.IO v4 servers send.
        """
        try:
            fields: Any = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"OPEN packet is not JSON: {exc}") from None
        if not isinstance(fields, dict):
            raise ProtocolError("OPEN packet data must be a JSON object")
        sid = fields.get("sid")
        upgrades = fields.get("upgrades", [])
        if not isinstance(sid, str) or not sid:
            raise ProtocolError("OPEN packet without a session id")
        if not (isinstance(upgrades, list) and all(isinstance(u, str) for u in upgrades)):
            raise ProtocolError("OPEN packet 'upgrades' must be a list of transport names")
        interval = _number(fields, "pingInterval")
        timeout = _number(fields, "pingTimeout")
        max_payload = _number(fields, "maxPayload", 1_000_000)
        return cls(
            sid=sid,
            upgrades=tuple(upgrades),
            ping_interval=interval / 1000,
            ping_timeout=timeout / 1000,
            max_payload=int(max_payload),
        )


def _number(fields: dict[str, Any], key: str, default: float | None = None) -> float:
    value = fields.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ProtocolError(f"OPEN packet {key} must be a positive number, not {value!r}")
    return value
