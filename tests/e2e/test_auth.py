"""Accounts in the browser: sign up, sign out, sign back in, and a clear error when wrong."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from e2e.chat_page import ChatPage

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]


def test_a_new_user_can_sign_out_and_sign_back_in(new_user: NewUser) -> None:
    carol = new_user()
    carol.register("carol", "s3cret-pass")
    expect(carol.page.get_by_test_id("me")).to_have_text("carol")

    carol.page.get_by_test_id("logout-button").click()
    carol.page.get_by_test_id("auth-username").fill("carol")
    carol.page.get_by_test_id("auth-password").fill("s3cret-pass")
    carol.page.get_by_test_id("auth-submit").click()

    expect(carol.status).to_have_attribute("data-status", "connected")
    expect(carol.page.get_by_test_id("me")).to_have_text("carol")


def test_a_wrong_password_shows_an_error_and_keeps_the_form(new_user: NewUser) -> None:
    dave = new_user()
    dave.register("dave", "right-password")
    dave.page.get_by_test_id("logout-button").click()

    dave.page.get_by_test_id("auth-username").fill("dave")
    dave.page.get_by_test_id("auth-password").fill("wrong-password")
    dave.page.get_by_test_id("auth-submit").click()

    expect(dave.page.get_by_test_id("auth-error")).to_be_visible()
    expect(dave.page.get_by_test_id("auth-submit")).to_be_enabled()
