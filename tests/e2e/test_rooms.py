"""Rooms in the sidebar: all of mine (however many pages), and a searchable directory of the
public ones, on a server that answers two rooms per page so paging shows with few rooms."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from e2e.chat_page import ChatPage

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"BAATCHEET_ROOMS_PAGE_SIZE": "2"}


def test_every_room_of_mine_is_listed_after_a_reload_past_the_first_page(
    new_user: NewUser,
) -> None:
    alice = new_user()
    alice.register("alice")
    names = ["one", "two", "three", "four", "five"]
    for name in names:
        alice.create_room(name)

    alice.page.reload()
    expect(alice.status).to_have_attribute("data-status", "connected")
    for name in names:
        expect(alice.room_item(name)).to_be_visible()
    expect(alice.page.get_by_test_id("room-item")).to_have_count(len(names))


def test_the_directory_finds_a_public_room_by_the_start_of_its_name_and_joins_it(
    new_user: NewUser,
) -> None:
    alice = new_user()
    alice.register("alice")
    for name in ("alpha-team", "beta-team", "gamma"):
        alice.create_room(name)
    bob = new_user()
    bob.register("bob")

    bob.search_rooms("BETA")
    expect(bob.page.get_by_test_id("directory-item")).to_have_count(1)
    expect(bob.directory_item("beta-team")).to_be_visible()
    bob.directory_item("beta-team").click()

    expect(bob.page.get_by_test_id("room-title")).to_contain_text("beta-team")
    expect(bob.room_item("beta-team")).to_be_visible()
    expect(bob.directory_item("beta-team")).to_have_count(0)
    bob.send("hello from the directory")
    expect(alice.room_item("beta-team")).to_be_visible()
    alice.open_room("beta-team")
    expect(alice.message("hello from the directory")).to_be_visible()


def test_the_directory_loads_further_pages_on_demand(new_user: NewUser) -> None:
    alice = new_user()
    alice.register("alice")
    for name in ("room-a", "room-b", "room-c"):
        alice.create_room(name)
    bob = new_user()
    bob.register("bob")

    expect(bob.page.get_by_test_id("directory-item")).to_have_count(2)
    bob.page.get_by_test_id("directory-more").click()
    expect(bob.page.get_by_test_id("directory-item")).to_have_count(3)
    expect(bob.page.get_by_test_id("directory-more")).to_have_count(0)


def test_a_left_room_leaves_my_list_and_is_back_in_the_directory(new_user: NewUser) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("short-lived")

    alice.page.get_by_test_id("leave-room").click()
    expect(alice.room_item("short-lived")).to_have_count(0)
    alice.page.reload()
    expect(alice.status).to_have_attribute("data-status", "connected")
    expect(alice.room_item("short-lived")).to_have_count(0)
    expect(alice.directory_item("short-lived")).to_be_visible()


def test_a_public_room_created_by_someone_else_appears_in_my_directory_without_a_reload(
    new_user: NewUser,
) -> None:
    bob = new_user()
    bob.register("bob")
    expect(bob.page.get_by_test_id("directory")).to_contain_text("No other public rooms.")
    alice = new_user()
    alice.register("alice")

    alice.create_room("fresh-news")

    expect(bob.directory_item("fresh-news")).to_be_visible()
    bob.directory_item("fresh-news").click()
    expect(bob.room_item("fresh-news")).to_be_visible()
    expect(bob.directory_item("fresh-news")).to_have_count(0)
