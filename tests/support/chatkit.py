"""A running chat server (REST + ``/chat``) for integration tests, and a pluggable TCP link.

``chat_server`` wires Settings → ChatService → Server exactly as the composition root
does; ``TcpLink`` forwards a port to a database so a test can cut the database off
(``await link.cut()``) and bring it back (``await link.restore()``) without touching the
database server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from baatcheet.app import attach_chat
from baatcheet.chat.accounts import Session
from baatcheet.chat.service import ChatService
from baatcheet.settings import Settings
from baatcheet.sio import Server
from baatcheet.web.api import api_routes
from support.jsclient import JsClient, JsDriver
from support.ports import free_port

__all__ = ["ChatServer", "TcpLink", "chat_server", "sqlite_url"]

PASSWORD = "correct horse battery"


def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file under ``tmp_path``."""
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chat.db'}"


@dataclass
class ChatServer:
    """A started server with its chat services."""

    server: Server
    chat: ChatService

    @property
    def url(self) -> str:
        """The ``/chat`` namespace URL for socket.io-client."""
        return f"http://127.0.0.1:{self.server.port}/chat"

    async def user(self, prefix: str = "user") -> Session:
        """Register a new user with a unique name."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        return await self.chat.accounts.register(name, PASSWORD)

    async def connect(self, js: JsDriver, session: Session, **opts: Any) -> JsClient:
        """Connect a JS client to ``/chat`` with the session's token; wait for ``connect``."""
        client = await js.connect(
            self.url, auth={"token": session.access_token}, reconnection=False, **opts
        )
        await client.wait("connect")
        return client


@asynccontextmanager
async def chat_server(database_url: str, **fields: Any) -> AsyncIterator[ChatServer]:
    """Start a chat server on a free port; shut it and the store down afterwards."""
    settings = Settings(port=free_port(), database_url=database_url, **fields)
    chat = await ChatService.open(settings)
    server = Server(settings, app=Starlette(routes=api_routes(chat)))
    attach_chat(server, chat)
    await server.start()
    try:
        yield ChatServer(server, chat)
    finally:
        await server.shutdown(grace=1.0)
        await chat.close()


class TcpLink:
    """Forward ``127.0.0.1:<port>`` to ``target``; ``cut`` drops every connection."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def restore(self) -> None:
        """(Re)start listening on the same port."""
        self._listener = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._listener.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and reset every forwarded connection, as a dead network would."""
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.abort()
