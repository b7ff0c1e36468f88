"""Short-lived access tokens: the client refreshes them and the user never notices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from e2e.chat_page import ChatPage

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]
ACCESS_TOKEN_TTL_S = 3


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"BAATCHEET_ACCESS_TOKEN_TTL_S": str(ACCESS_TOKEN_TTL_S)}


def test_chat_keeps_working_after_the_access_token_expires(new_user: NewUser) -> None:
    alice = new_user()
    sockets: list[str] = []
    alice.page.on("websocket", lambda ws: sockets.append(ws.url))
    alice.register("alice")
    alice.create_room("long-session")
    alice.send("before expiry")
    expect(alice.message("before expiry")).to_have_attribute("data-state", "sent")

    alice.page.wait_for_timeout((ACCESS_TOKEN_TTL_S + 2) * 1000)
    alice.send("after expiry")
    expect(alice.message("after expiry")).to_have_attribute("data-state", "sent", timeout=15_000)
    # Refreshed on the open socket before expiry: the server never had to cut it off.
    assert len(sockets) == 1, sockets

    alice.page.reload()
    expect(alice.status).to_have_attribute("data-status", "connected", timeout=15_000)
    expect(alice.bodies).to_have_text(["before expiry", "after expiry"])
    expect(alice.page.get_by_test_id("auth-form")).to_have_count(0)
