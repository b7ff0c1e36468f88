"""Fuzz the server from its first byte: HTTP requests, long-polling, WebSocket frames.

Each input is one client connection: a few near-valid HTTP/1.1 requests (Engine.IO
handshakes, polls and POSTs to the session the handshake really opened, upgrades, CORS
preflights, other paths; odd methods, versions, header values, lengths and chunked bodies;
sometimes a flipped or cut byte), then, if the server switched to WebSocket, masked frames
carrying Engine.IO and damaged Socket.IO packets. The bytes arrive split at random points.

They are fed to the real connection object (``HttpConnection``) of a started server, with a
fake transport that records what the server writes, so thousands of connections cost no
sockets. The oracle: the protocol object never raises, the event loop never reports an
unhandled error, nothing is logged at ERROR (which is how the server reports its own
bugs), and no answer is ``500``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvloop
from hypothesis import given
from hypothesis import strategies as st

from baatcheet.errors import ConnectRejected
from baatcheet.listener.http import HttpConnection
from baatcheet.proto.socketio import Packet, PacketType, encode
from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from support.fuzzing import RUNS, budget, damaged_socketio_messages, json_values, wire_texts
from support.ports import free_port

# -- the server under test -----------------------------------------------------------------


class FakeTransport(asyncio.Transport):
    """Records what the server writes; closing it ends the connection a loop turn later."""

    def __init__(self, protocol: HttpConnection) -> None:
        super().__init__()
        self.protocol = protocol
        self.written = bytearray()
        self.closing = False
        self.lost = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.closing:
            self.written += data

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.lose)

    def abort(self) -> None:
        self.close()

    def lose(self) -> None:
        """``connection_lost``, once, as a real transport calls it."""
        if not self.lost:
            self.lost = True
            self.closing = True
            self.protocol.connection_lost(None)

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 3000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        del high, low


@dataclass
class Harness:
    """A started server on its own uvloop loop, and what went wrong while it ran."""

    loop: asyncio.AbstractEventLoop
    server: Server
    errors: list[str] = field(default_factory=list)

    def run(self, steps: list[Step]) -> bytes:
        """Play one connection; return what the server wrote."""
        self.errors.clear()
        written = self.loop.run_until_complete(asyncio.wait_for(self._play(steps), 10))
        assert not self.errors, "\n".join(self.errors)
        return written

    async def _play(self, steps: list[Step]) -> bytes:
        router = self.server.listener.router
        connection = HttpConnection(router, "http")
        transport = FakeTransport(connection)
        connection.connection_made(transport)
        sid: str | None = None
        for step in steps:
            for chunk in step.render(self.server.port, sid):
                if transport.closing or not transport.reading:
                    break
                connection.data_received(chunk)
                await asyncio.sleep(0)
            for _ in range(3):  # let spawned handshakes and hosted-app requests run
                await asyncio.sleep(0)
            sid = sid or _sid_in(bytes(transport.written))
        transport.lose()
        for session in list(self.server.engine.sessions.values()):
            session.close()
        self.server.engine.sessions.clear()
        if router.tasks:
            await asyncio.wait(router.tasks, timeout=5)
        await asyncio.sleep(0)
        return bytes(transport.written)


class _ErrorLog(logging.Handler):
    def __init__(self, harness: Harness) -> None:
        super().__init__(logging.ERROR)
        self.harness = harness

    def emit(self, record: logging.LogRecord) -> None:
        self.harness.errors.append(f"logged: {self.format(record)}")


@functools.cache
def harness() -> Harness:
    """The one server every input of this process talks to (started on first use)."""
    loop = uvloop.new_event_loop()
    server = Server(Settings(port=free_port(), max_payload_bytes=10_000, cors_origins=["*"]))

    def on_connection(socket: Socket) -> None:
        socket.join("lobby")
        socket.on("echo", lambda *args: args)
        socket.on("shout", lambda *args: socket.to("lobby").emit("shout", *args))
        socket.on_any(lambda event, *args: socket.emit("seen", event))

    def refuse(socket: Socket) -> None:
        raise ConnectRejected("no entry", {"code": 1})

    server.on("connection", on_connection)
    server.of("/admin").use(refuse)
    server.of(re.compile(r"/room-\d+")).on("connection", on_connection)
    loop.run_until_complete(server.start())
    result = Harness(loop, server)

    def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        result.errors.append(f"event loop: {context.get('message')} {context.get('exception')!r}")

    loop.set_exception_handler(on_loop_error)
    handler = _ErrorLog(result)
    logging.getLogger("baatcheet").addHandler(handler)
    return result


@pytest.fixture(scope="module", autouse=True)
def _shut_down_the_harness() -> Iterator[None]:
    yield
    if harness.cache_info().currsize:
        running = harness()
        running.loop.run_until_complete(running.server.shutdown(grace=0.1))
        running.loop.close()
        harness.cache_clear()


_SID = re.compile(rb'0\{"sid":"([^"]+)"')


def _sid_in(written: bytes) -> str | None:
    found = _SID.search(written)
    return found[1].decode() if found else None


# -- what one connection sends ---------------------------------------------------------------


@dataclass
class Step:
    """One request or a run of WebSocket frames, rendered once the session id is known."""

    parts: list[Any]
    cuts: list[int]

    def render(self, port: int, sid: str | None) -> list[bytes]:
        data = b"".join(part(port, sid) if callable(part) else part for part in self.parts)
        chunks, start = [], 0
        for cut in sorted(cut % (len(data) + 1) for cut in self.cuts):
            chunks.append(data[start:cut])
            start = cut
        chunks.append(data[start:])
        return [chunk for chunk in chunks if chunk]


_METHODS = st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "HEAD", "DELETE", "G\x00T", "get"])
_PATHS = st.sampled_from(
    ["/socket.io/", "/socket.io", "/ws", "/", "/api/rooms", "/socket.io/socket.io.js", "//", "*"]
) | wire_texts.map(lambda text: "/" + text.encode("utf-8", "replace").decode("latin-1"))
_QUERY_VALUES = {
    "EIO": st.sampled_from(["4", "3", "", "44", "4\x00"]),
    "transport": st.sampled_from(["polling", "websocket", "", "flashsocket"]),
    "sid": st.sampled_from(["{sid}", "{sid}", "nope", "", "{sid}x"]),
    "t": wire_texts,
    "b64": st.sampled_from(["1", "0"]),
}
_VERSIONS = st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", ""])
_HEADER_VALUES = st.one_of(
    wire_texts.map(lambda text: text.encode("utf-8", "replace").decode("latin-1")),
    st.sampled_from(["websocket", "Upgrade", "keep-alive", "close", "13", "8", "*", "-1"]),
)
_HEADERS = st.lists(
    st.one_of(
        st.tuples(st.just("Host"), st.sampled_from(["127.0.0.1:{port}", "localhost", "evil"])),
        st.tuples(st.just("Origin"), st.sampled_from(["http://127.0.0.1:{port}", "null"])),
        st.tuples(st.just("Connection"), st.sampled_from(["Upgrade", "close", "keep-alive"])),
        st.tuples(st.just("Upgrade"), st.sampled_from(["websocket", "h2c", ""])),
        st.tuples(st.just("Sec-WebSocket-Key"), st.sampled_from(["dGhlIHNhbXBsZSBub25jZQ==", "x"])),
        st.tuples(st.just("Sec-WebSocket-Version"), st.sampled_from(["13", "8", ""])),
        st.tuples(st.just("Sec-WebSocket-Extensions"), st.just("permessage-deflate")),
        st.tuples(st.just("Content-Type"), st.sampled_from(["text/plain", "application/json"])),
        st.tuples(st.just("Transfer-Encoding"), st.sampled_from(["chunked", "gzip", ""])),
        st.tuples(
            st.just("Content-Length"), st.sampled_from(["0", "5", "-1", "99999999999", "1,1"])
        ),
        st.tuples(st.sampled_from(["X-A", "x a", "", "Cookie"]), _HEADER_VALUES),
    ),
    max_size=8,
)
_BODIES = st.one_of(
    st.just(""),
    st.lists(damaged_socketio_messages(), max_size=3).map(
        lambda lists: "\x1e".join(
            ("4" + m) if isinstance(m, str) else "b" + base64.b64encode(m).decode()
            for ms in lists
            for m in ms
        )
    ),
    st.sampled_from(["40", "3", "1", "6", "40/admin,", "40/room-7,", "2", "5"]),
    wire_texts,
)


@st.composite
def requests(draw: st.DrawFn) -> Step:
    """One HTTP request, usually well formed, sometimes with a byte flipped or cut."""
    query = draw(st.dictionaries(st.sampled_from(list(_QUERY_VALUES)), st.just(""), max_size=5))
    query_text = "&".join(f"{key}={draw(_QUERY_VALUES[key])}" for key in query)
    method, path, version = draw(_METHODS), draw(_PATHS), draw(_VERSIONS)
    headers = draw(_HEADERS)
    body = draw(_BODIES).encode("utf-8", "surrogatepass")
    chunked = any(name == "Transfer-Encoding" and value == "chunked" for name, value in headers)
    if chunked:
        size = draw(st.integers(min_value=0, max_value=len(body) + 2))
        body = b"%x\r\n" % size + body + b"\r\n0\r\n\r\n"
    elif not any(name == "Content-Length" for name, _ in headers) and body:
        headers.append(("Content-Length", str(len(body))))
    head = f"{method} {path}{'?' if query_text else ''}{query_text} {version}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"

    def render_head(port: int, sid: str | None) -> bytes:
        text = head.replace("{port}", str(port)).replace("{sid}", sid or "unknown")
        return text.encode("latin-1", "replace")

    parts: list[Any] = [render_head, body]
    damage = draw(st.sampled_from(["none", "none", "none", "flip", "cut"]))
    if damage != "none":
        at = draw(st.integers(min_value=0, max_value=200))
        byte = draw(st.integers(min_value=0, max_value=255))

        def damaged(port: int, sid: str | None) -> bytes:
            data = render_head(port, sid) + body
            index = at % max(len(data), 1)
            if damage == "cut":
                return data[:index]
            return data[:index] + bytes([byte]) + data[index + 1 :]

        parts = [damaged]
    return Step(parts, draw(st.lists(st.integers(min_value=0, max_value=10_000), max_size=3)))


def _frame(opcode: int, payload: bytes, *, fin: bool, masked: bool, rsv: int) -> bytes:
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    elif len(payload) < 2**16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return head + payload
    mask = b"\x5a\x01\xff\x10"
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


_ENGINE_TEXTS = st.one_of(
    st.sampled_from(["2probe", "5", "3", "2", "1", "6", "40", "40/admin,", "40/room-3,{}"]),
    # The first message of a damaged packet (damage may have dropped them all).
    damaged_socketio_messages().map(
        lambda messages: "4" + messages[0] if messages and isinstance(messages[0], str) else "4"
    ),
    json_values.map(
        lambda value: "4" + str(encode(Packet(PacketType.EVENT, "/", ["echo", value]))[0])
    ),
    wire_texts,
)


@st.composite
def websocket_frames(draw: st.DrawFn) -> Step:
    """A few client frames: mostly masked text carrying Engine.IO packets."""
    frames = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        kind = draw(st.sampled_from(["text", "text", "text", "binary", "ping", "close", "odd"]))
        if kind == "text":
            text = draw(_ENGINE_TEXTS)
            frames.append(
                _frame(1, text.encode("utf-8", "surrogatepass"), fin=True, masked=True, rsv=0)
            )
        elif kind == "binary":
            frames.append(_frame(2, draw(st.binary(max_size=40)), fin=True, masked=True, rsv=0))
        elif kind == "ping":
            frames.append(_frame(9, draw(st.binary(max_size=130)), fin=True, masked=True, rsv=0))
        elif kind == "close":
            code = draw(st.sampled_from([b"", b"\x03\xe8", b"\x03\xe9bye", b"\x00", b"\xff\xff"]))
            frames.append(_frame(8, code, fin=True, masked=True, rsv=0))
        else:
            frames.append(
                _frame(
                    draw(st.integers(min_value=0, max_value=15)),
                    draw(st.binary(max_size=200)),
                    fin=draw(st.booleans()),
                    masked=draw(st.booleans()),
                    rsv=draw(st.integers(min_value=0, max_value=7)),
                )
            )
    cuts = draw(st.lists(st.integers(min_value=0, max_value=10_000), max_size=3))
    return Step(frames, cuts)


_UPGRADE = Step(
    [
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ],
    [],
)
_HANDSHAKE = Step(
    [b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n"], []
)

_CONNECT_FRAME = Step([_frame(1, b"40", fin=True, masked=True, rsv=0)], [])


def _probe_upgrade(port: int, sid: str | None) -> bytes:
    return (
        f"GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: localhost\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _polling(method: str, body: bytes = b"") -> Step:
    def render(port: int, sid: str | None) -> bytes:
        head = f"{method} /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
        head += f"Host: localhost\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    return Step([render], [])


_POLLING_STEPS = st.one_of(
    _BODIES.map(lambda body: _polling("POST", body.encode("utf-8", "surrogatepass"))),
    st.just(_polling("GET")),
    requests(),
)
_PROBE_FRAMES = Step(
    [
        _frame(1, b"2probe", fin=True, masked=True, rsv=0),
        _frame(1, b"5", fin=True, masked=True, rsv=0),
    ],
    [],
)


def _then(first: list[Step], rest: st.SearchStrategy[list[Step]]) -> st.SearchStrategy[list[Step]]:
    return rest.map(lambda steps: [*first, *steps])


connections = st.one_of(
    # Anything over HTTP.
    st.lists(requests(), min_size=1, max_size=4),
    # A real polling session, connected to "/", then polls, posts and other requests to it.
    _then([_HANDSHAKE, _polling("POST", b"40")], st.lists(_POLLING_STEPS, max_size=5)),
    # Straight to WebSocket, usually connected to "/", then frames.
    _then([_UPGRADE, _CONNECT_FRAME], st.lists(websocket_frames(), min_size=1, max_size=3)),
    _then([_UPGRADE], st.lists(websocket_frames(), min_size=1, max_size=3)),
    # Polling first, then the upgrade dance, then frames on the upgraded session.
    _then(
        [_HANDSHAKE, _polling("POST", b"40"), Step([_probe_upgrade], []), _PROBE_FRAMES],
        st.lists(websocket_frames(), max_size=3),
    ),
)


@budget(0.5)
@given(connections)
def test_any_connection_is_answered_without_a_server_error(steps: list[Step]) -> None:
    RUNS["http.HttpConnection"] += 1
    written = harness().run(steps)
    for status in re.findall(rb"HTTP/1\.1 (\d{3})", written):
        assert status != b"500", written[:2000]


def test_the_harness_reaches_a_session_and_a_websocket() -> None:
    """The fuzz target's own plumbing: a handshake, a poll, and an upgrade work through it."""
    polling = harness().run([_HANDSHAKE])
    assert b"HTTP/1.1 200" in polling
    assert _sid_in(polling) is not None
    upgraded = harness().run([_UPGRADE, Step([_frame(1, b"40", fin=True, masked=True, rsv=0)], [])])
    assert b"HTTP/1.1 101" in upgraded
    assert b'40{"sid":' in upgraded
