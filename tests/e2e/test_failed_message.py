"""A message the server refuses is not silently dropped: it says so and offers a retry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from e2e.chat_page import ChatPage

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"BAATCHEET_MAX_MESSAGE_LENGTH": "20"}


def test_a_refused_message_is_marked_failed_with_a_retry_button(new_user: NewUser) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("limits")
    too_long = "this message is longer than the server allows"

    alice.send("short and fine")
    alice.send(too_long)

    expect(alice.message("short and fine")).to_have_attribute("data-state", "sent")
    refused = alice.message(too_long)
    expect(refused).to_have_attribute("data-state", "failed")
    expect(refused.get_by_test_id("message-retry")).to_be_visible()

    refused.get_by_test_id("message-retry").click()
    expect(refused).to_have_attribute("data-state", "failed")
    expect(alice.message(too_long)).to_have_count(1)
