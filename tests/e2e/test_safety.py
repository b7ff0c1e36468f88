"""Message bodies are text: markup someone types is shown, never run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from e2e.chat_page import ChatPage

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]

PAYLOAD = '<img src=x onerror="window.__pwned=1"><b>bold?</b><script>window.__pwned=2</script>'


def test_html_in_a_message_is_shown_literally_and_never_executed(new_user: NewUser) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("security")
    bob = new_user()
    bob.register("bob")
    bob.open_room("security")

    alice.send(PAYLOAD)

    expect(bob.message(PAYLOAD)).to_be_visible()
    message_list = bob.page.get_by_test_id("message-list")
    expect(message_list.locator("img")).to_have_count(0)
    expect(message_list.locator("b")).to_have_count(0)
    expect(message_list.locator("script")).to_have_count(0)
    assert bob.page.evaluate("() => window.__pwned") is None
