"""A /chat socket does not keep its bearer token once verified (official JS client)."""

from __future__ import annotations

from pathlib import Path

from support.chatkit import chat_server, sqlite_url
from support.jsclient import JsDriver


async def test_fetch_sockets_shows_a_chat_handshake_without_the_token(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path)) as srv:
        session = await srv.user()
        await srv.connect(js, session)
        [socket] = await srv.server.of("/chat").fetch_sockets()
        assert "token" not in socket.handshake["auth"]
        assert socket.data["user"]["id"] == session.user.id
