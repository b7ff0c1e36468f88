"""What a person does in the web client, as methods, so tests read as user stories.

Everything goes through the page the way a user would — typing, clicking, pressing Enter —
and finds elements by their ``data-testid``, never by CSS classes that designers may change.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

__all__ = ["ChatPage"]


class ChatPage:
    """One signed-in (or signing-in) user in one browser context."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def register(self, username: str, password: str = "correct horse battery") -> None:
        """Open the app, create an account and wait until the chat is connected."""
        self.page.goto(self.base_url + "/")
        self.page.get_by_test_id("auth-mode-register").click()
        self.page.get_by_test_id("auth-username").fill(username)
        self.page.get_by_test_id("auth-password").fill(password)
        self.page.get_by_test_id("auth-submit").click()
        expect(self.status).to_have_attribute("data-status", "connected")

    def create_room(self, name: str) -> None:
        """Create a public room from the sidebar; the app switches to it."""
        self.page.get_by_test_id("new-room-button").click()
        self.page.get_by_test_id("new-room-name").fill(name)
        self.page.get_by_test_id("new-room-submit").click()
        expect(self.page.get_by_test_id("room-title")).to_contain_text(name)

    def open_room(self, name: str) -> None:
        """Pick a room in the sidebar — one of mine, or a public one from the directory,
        which joins it — and wait for it to be shown."""
        self.room_item(name).or_(self.directory_item(name)).first.click()
        expect(self.page.get_by_test_id("room-title")).to_contain_text(name)

    def room_item(self, name: str) -> Locator:
        """A room of mine in the sidebar."""
        return self.page.locator(f'[data-testid="room-item"][data-room-name="{name}"]')

    def directory_item(self, name: str) -> Locator:
        """A public room I have not joined, in the sidebar's directory."""
        return self.page.locator(f'[data-testid="directory-item"][data-room-name="{name}"]')

    def search_rooms(self, text: str) -> None:
        """Type into the directory's search box."""
        self.page.get_by_test_id("room-search").fill(text)

    def type(self, text: str) -> None:
        """Type into the composer key by key, as a person would (this fires typing events)."""
        self.page.get_by_test_id("composer-input").press_sequentially(text, delay=20)

    def send(self, text: str) -> None:
        """Write a message and press Enter."""
        self.page.get_by_test_id("composer-input").fill(text)
        self.page.get_by_test_id("composer-input").press("Enter")

    @property
    def status(self) -> Locator:
        return self.page.get_by_test_id("connection-status")

    @property
    def typing_indicator(self) -> Locator:
        return self.page.get_by_test_id("typing-indicator")

    @property
    def bodies(self) -> Locator:
        return self.page.get_by_test_id("message-body")

    def message(self, text: str) -> Locator:
        """The list item of the message whose body is exactly ``text``."""
        return self.page.get_by_test_id("message").filter(
            has=self.page.get_by_test_id("message-body").get_by_text(text, exact=True)
        )
