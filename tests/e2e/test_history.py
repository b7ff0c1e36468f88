"""What was said stays: reloading shows it again, and scrolling up loads older pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from e2e.chat_page import ChatPage

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]


def test_reloading_the_page_shows_the_conversation_again_in_order(new_user: NewUser) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("notes")
    for text in ("first", "second", "third"):
        alice.send(text)
    expect(alice.message("third")).to_have_attribute("data-state", "sent")

    alice.page.reload()

    expect(alice.status).to_have_attribute("data-status", "connected")
    expect(alice.page.get_by_test_id("room-title")).to_contain_text("notes")
    expect(alice.bodies).to_have_text(["first", "second", "third"])
    expect(alice.message("first")).to_have_attribute("data-mine", "true")


def test_scrolling_to_the_top_loads_older_messages_until_the_beginning(
    new_user: NewUser,
) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("long-thread")
    count = 70  # more than two pages of 30
    for n in range(1, count + 1):
        alice.send(f"message {n}")
    expect(alice.message(f"message {count}")).to_have_attribute("data-state", "sent")
    alice.page.reload()
    expect(alice.message(f"message {count}")).to_be_visible()
    expect(alice.message("message 1")).to_have_count(0)

    history_start = alice.page.get_by_test_id("history-start")
    message_list = alice.page.get_by_test_id("message-list")
    for _ in range(10):
        if history_start.count() > 0:
            break
        message_list.evaluate("el => { el.scrollTop = 0; }")
        alice.page.wait_for_timeout(400)

    expect(history_start).to_be_visible()
    expect(alice.bodies).to_have_count(count)
    expect(alice.bodies.first).to_have_text("message 1")
