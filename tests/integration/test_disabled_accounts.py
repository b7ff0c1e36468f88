"""An account disabled with ``baatcheet user disable`` while the server runs is shut out.

The operator's command is a separate process writing to the server's SQLite file, as in
production; the user keeps a still-valid access token and refresh token from before.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support.baatcheet_cli import baatcheet
from support.chatkit import PASSWORD, chat_server, sqlite_url
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(90)


async def test_a_disabled_user_cannot_connect_log_in_or_refresh_until_enabled(
    tmp_path: Path, js: JsDriver
) -> None:
    database = sqlite_url(tmp_path)
    async with chat_server(database) as running:
        session = await running.user("ada")
        name = session.user.username
        api = f"http://127.0.0.1:{running.server.port}/api"
        bearer = {"Authorization": f"Bearer {session.access_token}"}

        disabled = await baatcheet(database, "user", "disable", name)
        assert disabled.code == 0, disabled.text

        refused = await js.connect(
            running.url, auth={"token": session.access_token}, reconnection=False
        )
        report = await refused.wait("connect_error")
        assert report["message"] == "account disabled"
        assert report["data"] == {"code": "account_disabled"}
        async with httpx.AsyncClient(base_url=api) as http:
            me = await http.get("/me", headers=bearer)
            login = await http.post("/auth/login", json={"username": name, "password": PASSWORD})
            refresh = await http.post("/auth/refresh", json={"refreshToken": session.refresh_token})
        assert (me.status_code, me.json()["error"]["code"]) == (403, "account_disabled")
        assert (login.status_code, login.json()["error"]["code"]) == (403, "account_disabled")
        assert refresh.status_code == 401

        enabled = await baatcheet(database, "user", "enable", name)
        assert enabled.code == 0, enabled.text
        async with httpx.AsyncClient(base_url=api) as http:
            login = await http.post("/auth/login", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200, login.text
        welcome = await js.connect(
            running.url, auth={"token": login.json()["accessToken"]}, reconnection=False
        )
        await welcome.wait("connect")
