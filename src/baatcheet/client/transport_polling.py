"""HTTP long-polling transport (Engine.IO v4 spec: "HTTP long-polling"), over httpx.

One GET is always in flight to receive: the server answers it with every packet queued
for this client, or holds it until there is one (at the latest its next PING), so the
receive loop simply sends the next GET after each answer. Each batch of outgoing packets
is one POST. Both go to the same URL with the session id in the query string.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from typing import Final

import httpx

from baatcheet.client._tasks import spawn
from baatcheet.client.errors import ConnectionFailedError
from baatcheet.client.handshake import EngineHandshake
from baatcheet.client.reasons import DisconnectReason
from baatcheet.client.transport import (
    PacketHandler,
    TransportCloseHandler,
    TransportTarget,
    ignore_close,
    ignore_packet,
)
from baatcheet.errors import ProtocolError
from baatcheet.proto.engineio import (
    EnginePacket,
    EnginePacketType,
    decode_polling_payload,
    encode_polling_payload,
)

__all__ = ["PollingTransport"]

_CLOSE_POST_TIMEOUT_S: Final = 2.0
"""How long closing waits for the server to take our CLOSE packet."""
_TEXT: Final = {"content-type": "text/plain;charset=UTF-8"}


class _RefusedError(Exception):
    """The server answered a poll with something other than 200."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status} {body[:200]}")
        self.status = status


class PollingTransport:
    """Engine.IO over HTTP long-polling. See :mod:`baatcheet.client.transport`."""

    name = "polling"

    def __init__(self, target: TransportTarget) -> None:
        self._target = target
        # No client-side timeouts: a held GET legitimately lasts a whole ping interval,
        # and the Engine.IO connection's heartbeat watchdog bounds every wait anyway.
        self._http = httpx.AsyncClient(
            headers=dict(target.headers),
            verify=target.ssl if target.ssl is not None else True,
            timeout=None,
        )
        self._sid: str | None = None
        self._poller: asyncio.Task[None] | None = None
        self._paused = False
        self._closed = False
        self.on_packet: PacketHandler = ignore_packet
        self.on_close: TransportCloseHandler = ignore_close

    async def open(self, sid: str | None) -> None:
        """Handshake with a GET, deliver its packets, then keep polling.

        Raises:
            ConnectionFailedError: The server is unreachable, refused the handshake, or
                answered with something that is not an Engine.IO handshake.
            ValueError: ``sid`` was given: long-polling is never an upgrade target.
        """
        if sid is not None:
            raise ValueError("long-polling opens new sessions only; it is not an upgrade")
        url = self._target.url
        try:
            body = await self._get()
            packets = decode_polling_payload(body)
            if packets[0].type is not EnginePacketType.OPEN:
                raise ProtocolError(f"the handshake answer starts with {packets[0].type.name}")
            self._sid = EngineHandshake.parse(str(packets[0].data)).sid
        except _RefusedError as exc:
            await self._http.aclose()
            raise ConnectionFailedError(
                f"the server refused the handshake at {url}: {exc}", status=exc.status
            ) from None
        except httpx.HTTPError as exc:
            await self._http.aclose()
            raise ConnectionFailedError(f"cannot reach {url}: {exc!r}") from None
        except ProtocolError as exc:
            await self._http.aclose()
            raise ConnectionFailedError(f"{url} is not an Engine.IO v4 server: {exc}") from None
        if self._deliver(packets):
            self._poller = asyncio.create_task(self._poll_loop())

    async def send(self, packets: Sequence[EnginePacket]) -> None:
        """POST ``packets`` as one payload; returns once the server answered."""
        if self._closed:
            return
        body = encode_polling_payload(packets).encode()
        try:
            response = await self._http.post(
                self._target.url, params=self._params(), content=body, headers=_TEXT
            )
        except httpx.HTTPError as exc:
            self._fail(DisconnectReason.TRANSPORT_ERROR, f"POST failed: {exc!r}")
            return
        if response.status_code != 200:
            self._fail(
                DisconnectReason.TRANSPORT_ERROR,
                f"POST answered {response.status_code} {response.text[:200]}",
            )

    async def pause(self) -> None:
        """Send no further GET; return once the one in flight was answered.

        The server answers that GET with a NOOP as soon as the upgrade probe succeeded.
        """
        self._paused = True
        poller = self._poller
        if poller is not None and not poller.done():
            # asyncio.wait, not a bare await: cancelling pause() must not cancel the poller.
            await asyncio.wait({poller})

    async def close(self) -> None:
        """Tell the server with a CLOSE packet (unless paused for an upgrade), then stop."""
        was_open = not self._closed
        self._closed = True
        self.on_packet = ignore_packet
        self.on_close = ignore_close
        if was_open and self._sid is not None and not self._paused:
            # Sent before the poll is cancelled: the server then ends the session cleanly
            # and answers the held GET, instead of seeing it aborted.
            with contextlib.suppress(httpx.HTTPError, TimeoutError):
                async with asyncio.timeout(_CLOSE_POST_TIMEOUT_S):
                    await self._http.post(
                        self._target.url, params=self._params(), content=b"1", headers=_TEXT
                    )
        poller = self._poller
        if poller is not None and poller is not asyncio.current_task():
            poller.cancel()
            await asyncio.wait({poller})
        await self._http.aclose()

    # -- receiving ------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while not self._paused and not self._closed:
            try:
                body = await self._get()
            except _RefusedError as exc:
                self._fail(DisconnectReason.TRANSPORT_ERROR, f"poll answered {exc}")
                return
            except httpx.HTTPError as exc:
                self._fail(DisconnectReason.TRANSPORT_ERROR, f"poll failed: {exc!r}")
                return
            try:
                packets = decode_polling_payload(body)
            except ProtocolError as exc:
                self._fail(DisconnectReason.PARSE_ERROR, str(exc))
                return
            if not self._deliver(packets):
                return

    def _deliver(self, packets: list[EnginePacket]) -> bool:
        """Hand ``packets`` on; False once the transport ended (a CLOSE among them)."""
        for packet in packets:
            if self._closed:
                return False
            if packet.type is EnginePacketType.CLOSE:
                self._fail(DisconnectReason.TRANSPORT_CLOSE, "transport closed by the server")
                return False
            self.on_packet(packet)
        return not self._closed

    async def _get(self) -> str:
        response = await self._http.get(self._target.url, params=self._params())
        if response.status_code != 200:
            raise _RefusedError(response.status_code, response.text)
        return response.text

    def _params(self) -> dict[str, str]:
        params = self._target.query_for(self.name, self._sid)
        params["t"] = secrets.token_hex(4)  # cache busting, as the JS client does
        return params

    def _fail(self, reason: DisconnectReason, description: str) -> None:
        if self._closed:
            return
        self._closed = True
        handler = self.on_close
        self.on_packet = ignore_packet
        self.on_close = ignore_close
        spawn(self._http.aclose())
        handler(reason, description)
