"""The unmodified @socket.io/admin-ui front end, served by Baatcheet, against Baatcheet.

Two people chat in the web client (their official-client sockets join their rooms); an
operator opens the admin UI at /admin-ui/, logs in through its dialog, sees those sockets
and rooms in its tables, and disconnects one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import bcrypt
import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from e2e.chat_page import ChatPage
from e2e.server_process import ServerProcess
from support.paths import REPO_ROOT

pytestmark = pytest.mark.browser

NewUser = Callable[[], ChatPage]
ADMIN_PASSWORD = "operator-password"
ADMIN_UI_DIR = REPO_ROOT / "adminui" / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"


@pytest.fixture
def server_env() -> dict[str, str]:
    if not (ADMIN_UI_DIR / "index.html").is_file():
        pytest.fail(f"the admin UI is not installed at {ADMIN_UI_DIR}: run scripts/install")
    password_hash = bcrypt.hashpw(ADMIN_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return {
        "BAATCHEET_ADMIN_UI": "true",
        "BAATCHEET_ADMIN_USERNAME": "operator",
        "BAATCHEET_ADMIN_PASSWORD_HASH": password_hash,
        "BAATCHEET_ADMIN_UI_DIR": str(ADMIN_UI_DIR),
    }


def _offline(route: Route) -> None:
    """The page's web fonts and icon font come from CDNs; the test runs without them."""
    route.abort()


@pytest.fixture
def admin_page(browser: Browser, server: ServerProcess) -> Iterator[Page]:
    """The admin UI's page, logged in through its own connection dialog."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.route("**/fonts.googleapis.com/**", _offline)
    context.route("**/cdn.jsdelivr.net/**", _offline)
    page = context.new_page()
    page.goto(server.url + "/admin-ui")
    page.get_by_label("Server URL").fill(server.url)
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    yield page
    context.close()


def _rows(page: Page) -> Locator:
    return page.locator("table tbody tr")


def test_the_admin_ui_lists_live_sockets_and_rooms_and_disconnects_one(
    new_user: NewUser, server: ServerProcess, admin_page: Page
) -> None:
    alice = new_user()
    alice.register("alice")
    alice.create_room("lobby")
    bob = new_user()
    bob.register("bob")
    bob.open_room("lobby")
    page = admin_page

    # Both chat sockets, with their rooms (all_sockets lists them as the UI connects).
    page.goto(server.url + "/admin-ui/#/rooms")
    page.reload()  # reconnects with the saved session id and asks for all sockets again
    expect(page.get_by_text("connected", exact=True).first).to_be_visible()
    expect(page.get_by_label("Password")).to_be_hidden()  # no login dialog this time
    rooms = _rows(page)
    expect(rooms.filter(has_text="room:1")).to_contain_text("2")
    expect(rooms.filter(has_text="user:1")).to_contain_text("1")
    expect(rooms.filter(has_text="user:2")).to_contain_text("1")

    page.goto(server.url + "/admin-ui/#/sockets")
    sockets = _rows(page)
    expect(sockets).to_have_count(2)
    expect(sockets.first).to_contain_text("127.0.0.1")
    victim = sockets.first.locator("td").first.inner_text().strip()

    # The row's button disconnects the socket; the click also opens the socket's page,
    # which shows it disconnected once the server reports it (socket_disconnected).
    sockets.filter(has_text=victim).get_by_role("button").click()
    expect(page.get_by_text("Socket details", exact=True)).to_be_visible()
    expect(page.get_by_text("disconnected", exact=True).first).to_be_visible()
    page.goto(server.url + "/admin-ui/#/sockets")
    expect(sockets.filter(has_text=victim)).to_have_count(0)
    # The web client reconnects on its own, as a new socket.
    expect(sockets).to_have_count(2)
    metrics = httpx.get(server.url + "/metrics", timeout=5).text
    seen = re.search(
        r'baatcheet_namespace_disconnects_total\{namespace="/chat",'
        r'reason="server namespace disconnect"\} (\S+)',
        metrics,
    )
    assert seen is not None and float(seen.group(1)) == 1.0
