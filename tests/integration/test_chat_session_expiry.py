"""Access-token expiry of /chat sockets that share one expiry timer (official JS client).

Every socket's expiry waits in one queue; these tests check that each socket still ends
at its own token's expiry, not before, and that refreshing or leaving takes one socket
out of the queue without touching the others.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from support.chatkit import chat_server, sqlite_url
from support.jsclient import JsDriver


async def test_each_tab_ends_at_its_own_expiry_when_one_refreshed_and_one_left(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path), access_token_ttl_s=3) as srv:
        session = await srv.user()
        refreshed = await srv.connect(js, session)
        left = await srv.connect(js, session)
        kept = await srv.connect(js, session)
        await asyncio.sleep(1.1)
        fresh, expires = srv.chat.accounts.issue_access(session.user)
        [ack] = await refreshed.emit_with_ack("auth:refresh", {"token": fresh})
        assert ack == {"ok": True, "expiresAt": expires}
        await left.disconnect()

        assert await kept.next_event("session:expired", timeout=4) == [{}]
        assert time.time() * 1000 >= session.expires_at_ms
        assert (await kept.wait("disconnect"))["reason"] == "io server disconnect"
        # The refreshed tab shared the first token's expiry and is still in session.
        [listing] = await refreshed.emit_with_ack("rooms:list", {})
        assert listing["ok"] is True

        assert await refreshed.next_event("session:expired", timeout=4) == [{}]
        assert time.time() * 1000 >= expires
        assert (await refreshed.wait("disconnect"))["reason"] == "io server disconnect"


async def test_users_with_tokens_of_different_ages_end_one_after_the_other(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path), access_token_ttl_s=2) as srv:
        first = await srv.user()
        early = await srv.connect(js, first)
        await asyncio.sleep(1.1)
        second = await srv.user()
        late = await srv.connect(js, second)

        assert await early.next_event("session:expired", timeout=3) == [{}]
        assert time.time() * 1000 >= first.expires_at_ms
        await late.assert_silent("disconnect", within=0.3)
        assert await late.next_event("session:expired", timeout=3) == [{}]
        assert time.time() * 1000 >= second.expires_at_ms
