"""The transport port: what the client's Engine.IO connection needs from a transport.

A transport moves Engine.IO packets between this client and one server and reports its
own end; it knows nothing of heartbeats, upgrades or sessions, which the Engine.IO
connection (:mod:`baatcheet.client.engine`) owns. Implementations:

* :mod:`baatcheet.client.transport_polling` — HTTP long-polling (httpx);
* :mod:`baatcheet.client.transport_websocket` — WebSocket (the ``websockets`` library);
* ``baatcheet.testing`` — an in-memory pipe into a ``Server`` in the same process.

Contract, for every implementation:

* After :meth:`Transport.open` returns, each packet received is passed to ``on_packet``,
  in order, until the transport ends.
* ``on_close`` is called at most once, when the transport ends by itself (the server
  closed it, the network failed); never after :meth:`Transport.close`.
* :meth:`Transport.send` is called by one writer at a time and returns once the packets
  are handed to the network (for polling: once the POST is answered). A failure is
  reported through ``on_close``, not raised.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from baatcheet.client.reasons import DisconnectReason
from baatcheet.proto.engineio import EnginePacket

__all__ = [
    "PacketHandler",
    "Transport",
    "TransportCloseHandler",
    "TransportFactory",
    "TransportTarget",
    "ignore_close",
    "ignore_packet",
]

PacketHandler = Callable[[EnginePacket], None]
"""Receives each Engine.IO packet the transport read."""
TransportCloseHandler = Callable[[DisconnectReason, str], None]
"""Told once that the transport ended by itself: a reason and a human description."""

ENGINE_IO_VERSION = "4"


@dataclass(frozen=True, slots=True)
class TransportTarget:
    """Where and how a transport connects.

    Attributes:
        url: The Engine.IO endpoint over HTTP(S), with its trailing slash
            (``http://host:3000/socket.io/``); WebSocket transports swap the scheme.
        query: Extra query parameters for every request (the URL's own, ``query=``).
        headers: Extra headers for every request and the WebSocket handshake.
        ssl: TLS context for ``https``/``wss``; None uses the system's defaults.
    """

    url: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    ssl: ssl.SSLContext | None = None

    def query_for(self, transport: str, sid: str | None) -> dict[str, str]:
        """The query string fields of a request on ``transport`` (``EIO``, ``sid``...)."""
        query = {**self.query, "EIO": ENGINE_IO_VERSION, "transport": transport}
        if sid is not None:
            query["sid"] = sid
        return query


class Transport(Protocol):
    """One transport connection (see the module docstring for the contract)."""

    @property
    def name(self) -> str:
        """``polling`` or ``websocket``: the name servers list in ``upgrades``."""

    on_packet: PacketHandler
    on_close: TransportCloseHandler

    async def open(self, sid: str | None) -> None:
        """Connect; with ``sid``, join that existing session (an upgrade probe).

        Raises:
            ConnectionFailedError: The server could not be reached or refused.
        """

    async def send(self, packets: Sequence[EnginePacket]) -> None:
        """Write ``packets``, in order."""

    async def pause(self) -> None:
        """Stop reading once the request in flight ends (polling, before an upgrade)."""

    async def close(self) -> None:
        """End the transport (and the session, if it is the session's transport)."""


TransportFactory = Callable[[str, TransportTarget], Transport]
"""Builds the transport named ``polling`` or ``websocket`` for a target."""


def ignore_packet(packet: EnginePacket) -> None:
    """The ``on_packet`` of a transport nobody listens to yet."""
    del packet


def ignore_close(reason: DisconnectReason, description: str) -> None:
    """The ``on_close`` of a transport nobody listens to yet."""
    del reason, description
