"""/chat handshake auth with the official JS client: precise connect_error, session expiry."""

from __future__ import annotations

import asyncio
from pathlib import Path

from support.chatkit import chat_server, sqlite_url
from support.jsclient import JsDriver


async def test_a_forged_token_gets_connect_error_invalid_token(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path)) as srv:
        client = await js.connect(srv.url, auth={"token": "e30.e30.forged"}, reconnection=False)
        error = await client.wait("connect_error")
        assert error["message"] == "invalid token"
        assert error["data"] == {"code": "invalid_token"}


async def test_a_missing_token_gets_connect_error_invalid_token(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path)) as srv:
        client = await js.connect(srv.url, reconnection=False)
        assert (await client.wait("connect_error"))["message"] == "invalid token"


async def test_a_token_signed_by_another_deployment_is_invalid(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path / "a"), jwt_secret="a" * 40) as other:
        foreign = await other.user()
    async with chat_server(sqlite_url(tmp_path / "b")) as srv:
        client = await js.connect(srv.url, auth={"token": foreign.access_token}, reconnection=False)
        assert (await client.wait("connect_error"))["message"] == "invalid token"


async def test_an_expired_token_gets_connect_error_token_expired(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path), access_token_ttl_s=1) as srv:
        session = await srv.user()
        await asyncio.sleep(2.1)
        client = await js.connect(srv.url, auth={"token": session.access_token}, reconnection=False)
        error = await client.wait("connect_error")
        assert error["message"] == "token expired"
        assert error["data"] == {"code": "token_expired"}


async def test_a_token_expiring_while_connected_ends_the_session_with_notice(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path), access_token_ttl_s=2) as srv:
        client = await srv.connect(js, await srv.user())
        assert await client.next_event("session:expired", timeout=4) == [{}]
        disconnect = await client.wait("disconnect")
        assert disconnect["reason"] == "io server disconnect"


async def test_auth_refresh_over_the_socket_extends_the_session(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path), access_token_ttl_s=3) as srv:
        session = await srv.user()
        client = await srv.connect(js, session)
        await asyncio.sleep(1.5)
        fresh, expires = srv.chat.accounts.issue_access(session.user)
        [ack] = await client.emit_with_ack("auth:refresh", {"token": fresh})
        assert ack == {"ok": True, "expiresAt": expires}
        assert expires > session.expires_at_ms
        # The old expiry (at most 3 s after login) passes without the session ending...
        await client.assert_silent("disconnect", within=1.8)
        # ...and the new one still ends it.
        assert await client.next_event("session:expired", timeout=3) == [{}]


async def test_auth_refresh_with_another_users_token_is_forbidden(
    js: JsDriver, tmp_path: Path
) -> None:
    async with chat_server(sqlite_url(tmp_path)) as srv:
        client = await srv.connect(js, await srv.user())
        other = await srv.user()
        [ack] = await client.emit_with_ack("auth:refresh", {"token": other.access_token})
        assert ack["ok"] is False
        assert ack["error"]["code"] == "forbidden"
