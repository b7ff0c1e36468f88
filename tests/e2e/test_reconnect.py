"""The server goes away and comes back: the UI says so, and nothing typed meanwhile is lost."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from e2e.chat_page import ChatPage
from e2e.server_process import ServerProcess

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]


def test_a_restarted_server_shows_reconnecting_then_delivers_the_queued_message(
    new_user: NewUser, server: ServerProcess
) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("ops")
    bob = new_user()
    bob.register("bob")
    bob.open_room("ops")
    alice.send("before the restart")
    expect(bob.message("before the restart")).to_be_visible()

    server.stop()
    expect(alice.status).to_have_attribute("data-status", "reconnecting")
    expect(alice.status).to_have_text("Reconnecting…")
    alice.send("typed while the server was down")
    expect(alice.message("typed while the server was down")).to_have_attribute(
        "data-state", "sending"
    )

    server.start()
    expect(alice.status).to_have_attribute("data-status", "connected", timeout=20_000)
    expect(bob.status).to_have_attribute("data-status", "connected", timeout=20_000)
    expect(bob.message("typed while the server was down")).to_be_visible()
    expect(alice.message("typed while the server was down")).not_to_have_attribute(
        "data-state", "sending"
    )
    # Sent exactly once, even though the client may have tried more than once.
    expect(bob.message("typed while the server was down")).to_have_count(1)
    alice.page.reload()
    expect(alice.message("typed while the server was down")).to_have_count(1)


def test_a_message_queued_offline_survives_a_page_reload(
    new_user: NewUser, server: ServerProcess
) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("drafts")
    server.stop()
    expect(alice.status).not_to_have_attribute("data-status", "connected")
    alice.send("do not lose me")

    # The page itself must load again, but its socket must not get through yet. The route
    # goes in before the server is back, or the old page's retries could deliver first.
    alice.page.route("**/socket.io/**", lambda route: route.abort())
    server.start()
    alice.page.reload()
    expect(alice.message("do not lose me")).to_have_attribute("data-state", "sending")
    expect(alice.status).not_to_have_attribute("data-status", "connected")

    alice.page.unroute("**/socket.io/**")
    expect(alice.message("do not lose me")).to_have_attribute("data-state", "sent", timeout=20_000)
    expect(alice.message("do not lose me")).to_have_count(1)
