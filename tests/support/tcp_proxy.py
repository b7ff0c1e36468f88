"""A loopback TCP proxy that a test can cut and restore, to take a service away and back.

::

    async with TcpProxy(upstream_port) as proxy:
        client = connect_to(proxy.port)
        await proxy.cut()       # live connections drop, new ones are refused
        await proxy.restore()   # accepting again, on the same port
    proxy.latency = 0.5     # what Redis answers from now on arrives half a second late

The service itself keeps running, so its state (other clients, subscriptions) survives the
outage exactly as it would survive a network partition of one node.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

__all__ = ["TcpProxy"]

_CHUNK = 64 * 1024


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``upstream_port`` while not cut."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.latency = 0.0
        """Seconds by which data read from the upstream is held back before it is passed on."""

    async def __aenter__(self) -> Self:
        await self.restore()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cut()

    async def restore(self) -> None:
        """Accept connections again (on the same port after a cut)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening (new connections are refused) and drop every live connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._pipes):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        for source, sink, late in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.create_task(self._pipe(source, sink, late, writer, up_writer))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        late: bool,
        *ends: asyncio.StreamWriter,
    ) -> None:
        try:
            while data := await source.read(_CHUNK):
                if late and self.latency:
                    await asyncio.sleep(self.latency)
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            for end in ends:
                end.transport.abort()
                self._writers.discard(end)
