"""Two people in two browsers talking in the same room, live."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from e2e.chat_page import ChatPage

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]


def _alice_and_bob_in_general(new_user: NewUser) -> tuple[ChatPage, ChatPage]:
    alice = new_user()
    alice.register("alice")
    alice.create_room("general")
    bob = new_user()
    bob.register("bob")
    bob.open_room("general")
    return alice, bob


def test_messages_appear_live_for_the_other_user_in_both_directions(new_user: NewUser) -> None:
    alice, bob = _alice_and_bob_in_general(new_user)

    alice.send("hi bob, welcome to general")
    expect(bob.message("hi bob, welcome to general")).to_be_visible()
    expect(bob.message("hi bob, welcome to general")).to_have_attribute("data-mine", "false")

    bob.send("thanks alice!")
    expect(alice.message("thanks alice!")).to_be_visible()
    expect(bob.message("thanks alice!")).to_have_attribute("data-mine", "true")


def test_my_message_is_marked_read_once_the_other_user_has_it_on_screen_and_stays_read(
    new_user: NewUser,
) -> None:
    alice, bob = _alice_and_bob_in_general(new_user)

    alice.send("did you read this?")

    expect(bob.message("did you read this?")).to_be_visible()
    expect(alice.message("did you read this?")).to_have_attribute("data-state", "read")

    # Receipts are stored: after a reload the message is still read, not merely sent.
    alice.page.reload()
    expect(alice.status).to_have_attribute("data-status", "connected")
    expect(alice.message("did you read this?")).to_have_attribute("data-state", "read")


def test_typing_indicator_shows_while_the_other_user_types_and_clears_on_send(
    new_user: NewUser,
) -> None:
    alice, bob = _alice_and_bob_in_general(new_user)

    bob.type("let me think")
    expect(alice.typing_indicator).to_have_text("bob is typing…")

    bob.page.get_by_test_id("composer-input").press("Enter")
    expect(alice.message("let me think")).to_be_visible()
    expect(alice.typing_indicator).to_have_count(0)


def test_presence_lists_the_other_user_who_is_in_the_room(new_user: NewUser) -> None:
    alice, _bob = _alice_and_bob_in_general(new_user)

    bob_online = alice.page.locator('[data-testid="presence-user"][data-username="bob"]')
    expect(bob_online).to_be_visible()


def test_a_direct_message_reaches_the_other_user_without_a_shared_room(
    new_user: NewUser,
) -> None:
    alice = new_user()
    alice.register("alice")
    bob = new_user()
    bob.register("bob")

    bob.page.get_by_test_id("new-dm-button").click()
    bob.page.get_by_test_id("new-dm-username").fill("alice")
    bob.page.get_by_test_id("new-dm-submit").click()
    expect(bob.page.get_by_test_id("room-title")).to_contain_text("alice")
    bob.send("psst, alice")

    alice.open_room("bob")
    expect(alice.message("psst, alice")).to_be_visible()


def test_switching_rooms_shows_only_the_chosen_rooms_messages(new_user: NewUser) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("cats")
    alice.send("meow")
    alice.create_room("dogs")
    alice.send("woof")

    expect(alice.bodies).to_have_text(["woof"])
    alice.open_room("cats")
    expect(alice.bodies).to_have_text(["meow"])
