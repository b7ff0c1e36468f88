"""One connection pipelining a flood of Socket.IO packets: what it costs everyone else.

Scenarios (each against a fresh ``baatcheet serve`` with a canary chat user timing its
acked messages; loopback only, bounded in count and time):

* ``connects``: 200,000 ``40/chat,{"token":"bad"}`` frames on one WebSocket, no account.
* ``messages``: 200,000 authenticated ``message:send`` frames into one room.
* ``ghosts``: 20,000 CONNECTs to ``/chat`` with a valid token on one connection, then the
  connection closes: what stays behind.
* ``demo``: 20,000 anonymous ``chat message`` frames to the open demo with 50 listeners.
* ``polling``: a polling client that never GETs (it POSTs a PONG every few seconds to stay
  alive) while the server broadcasts 1 KB messages at 1,000/s.

Usage: ``uv run python bench/abuse/pipelined_flood.py [scenario ...]`` (all by default).
Frames are built up front and written raw (client frames masked with a zero key), so the
attacker is as fast as the socket allows and never the bottleneck.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import httpx

# Run as a script from anywhere: make the checkout importable for the shared harness.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.abuse.harness import HOST, AbuseHarness, mib

_PASSWORD = "correct horse battery staple"
_ATTACK_WINDOW_S = 20.0


def client_frames(texts: Iterable[str]) -> bytes:
    """Masked WebSocket text frames (mask key 0, so the payload reads as is)."""
    parts: list[bytes] = []
    for text in texts:
        payload = text.encode()
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x81, 0x80 | size)
        elif size < 65_536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        parts.append(head + b"\0\0\0\0" + payload)
    return b"".join(parts)


class RawSocketIo:
    """An Engine.IO WebSocket on a raw TCP stream: writes blobs, reads text frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawSocketIo:
        reader, writer = await asyncio.open_connection(HOST, port, limit=2**24)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"upgrade refused: {head!r}")
        link = cls(reader, writer)
        opened = await link.recv()
        if opened is None or not opened.startswith("0"):
            raise RuntimeError(f"expected OPEN, got {opened!r}")
        return link

    async def recv(self) -> str | None:
        """The next text frame (answering pings), or None once the server closed."""
        while True:
            try:
                first, second = await self.reader.readexactly(2)
                size = second & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            opcode = first & 0x0F
            if opcode == 0x8:
                return None
            if opcode != 0x1:
                continue
            text = payload.decode()
            if text == "2":
                self.writer.write(client_frames(["3"]))
                continue
            return text

    async def send(self, blob: bytes) -> None:
        self.writer.write(blob)
        await self.writer.drain()

    async def closed_within(self, seconds: float) -> tuple[bool, int, str]:
        """Read until the server closes; (closed?, frames read, last frame)."""
        count = 0
        last = ""
        try:
            async with asyncio.timeout(seconds):
                while (frame := await self.recv()) is not None:
                    count += 1
                    last = frame
        except TimeoutError:
            return False, count, last
        return True, count, last

    def close(self) -> None:
        self.writer.close()


async def _register(port: int) -> str:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=30) as http:
        answer = await http.post(
            "/api/auth/register",
            json={"username": f"flood_{uuid.uuid4().hex[:8]}", "password": _PASSWORD},
        )
        answer.raise_for_status()
        return str(answer.json()["accessToken"])


async def _chat_link(port: int, token: str) -> RawSocketIo:
    link = await RawSocketIo.open(port)
    await link.send(client_frames([f"40/chat,{json.dumps({'token': token})}"]))
    while (frame := await link.recv()) is not None:
        if frame.startswith("40/chat,"):
            return link
    raise RuntimeError("the server closed the flooder's /chat connection at connect")


async def _send_timed(link: RawSocketIo, blob: bytes) -> str:
    """Write the whole flood; say how long the server took to take it (or that it stopped)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_ATTACK_WINDOW_S):
            await link.send(blob)
    except TimeoutError:
        return f"server was still pushing back after {_ATTACK_WINDOW_S:.0f} s"
    except ConnectionError:
        return f"server closed the connection after {time.perf_counter() - started:.2f} s"
    return f"server read it all in {time.perf_counter() - started:.2f} s"


async def _report(harness: AbuseHarness, title: str, attack: Callable[[], Awaitable[str]]) -> None:
    await asyncio.sleep(1.0)
    harness.rss.reset_peak()
    before = harness.rss.current_bytes()
    harness.canary.reset()
    outcome = await attack()
    await asyncio.sleep(1.0)
    print(f"== {title}")
    print(f"   {outcome}")
    print(
        f"   server RSS {mib(before)} -> peak {mib(harness.rss.peak_bytes)}"
        f" (+{mib(harness.rss.peak_bytes - before)}), after {mib(harness.rss.current_bytes())}"
    )
    print(f"   canary: {harness.canary.stats().line()}")


async def connects() -> None:
    async with AbuseHarness() as harness:

        async def attack() -> str:
            link = await RawSocketIo.open(harness.port)
            blob = client_frames(['40/chat,{"token":"bad"}'] * 200_000)
            pushed = await _send_timed(link, blob)
            closed, frames, _ = await link.closed_within(10)
            link.close()
            return f"200,000 bad-token CONNECTs ({mib(len(blob))}): {pushed}; " + (
                "closed by the server" if closed else f"still open after {frames:,} answers"
            )

        await _report(harness, "connects: pipelined CONNECTs with a bad token", attack)


async def messages() -> None:
    async with AbuseHarness() as harness:
        token = await _register(harness.port)
        room = harness.canary.room_id

        async def attack() -> str:
            link = await _chat_link(harness.port, token)
            flood = [f'42/chat,1["room:join",{{"roomId":{room}}}]'] + [
                f'42/chat,{n + 2}["message:send",{{"roomId":{room},"body":"flood {n}",'
                f'"clientId":"{uuid.uuid4().hex}"}}]'
                for n in range(200_000)
            ]
            blob = client_frames(flood)
            pushed = await _send_timed(link, blob)
            closed, frames, _ = await link.closed_within(_ATTACK_WINDOW_S)
            link.close()
            return f"200,000 message:send ({mib(len(blob))}): {pushed}; " + (
                "closed by the server" if closed else f"still open after {frames:,} frames"
            )

        await _report(harness, "messages: pipelined authenticated message:send", attack)


async def ghosts() -> None:
    async with AbuseHarness() as harness:
        token = await _register(harness.port)

        async def attack() -> str:
            link = await RawSocketIo.open(harness.port)
            connect = f"40/chat,{json.dumps({'token': token})}"
            pushed = await _send_timed(link, client_frames([connect] * 20_000))
            accepted = refused = 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_ATTACK_WINDOW_S):
                    while accepted + refused < 20_000 and (frame := await link.recv()):
                        if frame.startswith("40/chat,"):
                            accepted += 1
                        elif frame.startswith("44/chat,"):
                            refused += 1
            link.close()
            return (
                f"20,000 CONNECTs with a valid token: {pushed};"
                f" {accepted:,} admitted, {refused:,} refused"
            )

        await _report(harness, "ghosts: one connection, many CONNECTs to /chat", attack)


async def demo() -> None:
    async with AbuseHarness(["--demo-namespace"]) as harness:

        async def attack() -> str:
            listeners = [await RawSocketIo.open(harness.port) for _ in range(50)]
            for listener in listeners:
                await listener.send(client_frames(["40"]))
            received = [0]

            async def count(listener: RawSocketIo) -> None:
                while (frame := await listener.recv()) is not None:
                    if frame.startswith('42["chat message"'):
                        received[0] += 1

            counters = [asyncio.create_task(count(listener)) for listener in listeners]
            flooder = await RawSocketIo.open(harness.port)
            await flooder.send(client_frames(["40"]))
            pushed = await _send_timed(
                flooder, client_frames([f'42["chat message","spam {n}"]' for n in range(20_000)])
            )
            closed, _, _ = await flooder.closed_within(5)
            for task in counters:
                task.cancel()
            for link in [*listeners, flooder]:
                link.close()
            return (
                f"20,000 demo messages: {pushed}; {received[0]:,} frames reached the 50"
                f" listeners; flooder {'closed' if closed else 'still open'}"
            )

        await _report(harness, "demo: anonymous flood of the open namespace", attack)


async def polling() -> None:
    # The publisher may send 1,000/s here: this scenario is about the poller's queue.
    limits = ["--demo-messages-per-s", "5000", "--packet-rate-per-s", "5000"]
    async with AbuseHarness(["--demo-namespace", *limits]) as harness:

        async def attack() -> str:
            base = f"http://{HOST}:{harness.port}/socket.io/?EIO=4&transport=polling"
            async with httpx.AsyncClient(timeout=30) as http:
                sid = json.loads((await http.get(base)).text[1:])["sid"]
                url = f"{base}&sid={sid}"
                await http.post(url, content="40")
                await http.get(url)
                publisher = await RawSocketIo.open(harness.port)
                await publisher.send(client_frames(["40"]))
                kilobyte = "k" * 1000
                deadline = time.monotonic() + 40
                sent = 0
                alive = True
                while alive and time.monotonic() < deadline:
                    await publisher.send(client_frames([f'42["chat message","{kilobyte}"]'] * 10))
                    sent += 10
                    alive = (await http.post(url, content="3")).status_code == 200
                    await asyncio.sleep(0.01)
                publisher.close()
                reply = await http.get(url)
                return (
                    f"{sent:,} x 1 KB broadcasts while the poller never fetched:"
                    f" {'cut off by the server' if not alive else 'still connected after 40 s'};"
                    f" its next GET answered {reply.status_code} with {mib(len(reply.content))}"
                )

        await _report(harness, "polling: a client that never GETs", attack)


SCENARIOS: dict[str, Callable[[], Awaitable[None]]] = {
    "connects": connects,
    "messages": messages,
    "ghosts": ghosts,
    "demo": demo,
    "polling": polling,
}


async def main(names: list[str]) -> None:
    for name in names or list(SCENARIOS):
        await SCENARIOS[name]()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
