"""Event, space and team chats in the browser: team chat is for members; unread counts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from loadtest.provision import Provisioned, provision, run_sync
from tests.support.browser import screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def venue(dev: Role) -> Provisioned:
    spaces = [{"name": "Hall", "kind": "room", "capacity": 10}]
    teams = {"Rocket": [0], "Comet": [1]}
    return run_sync(
        lambda: provision(dev.base_url, ["Olivia"], spaces, attendees=2, names=["Ada", "Linus"], teams=teams)
    )


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(url)
    page.wait_for_function("window.venuekit && window.venuekit.session.me", timeout=15_000)
    return page


def _say(page: Page, channel: str, text: str) -> None:
    page.click(f".chat-tab[data-channel='{channel}']")
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    page.wait_for_function("document.querySelector('#chat-input').value === ''", timeout=10_000)


def _texts(page: Page, channel: str) -> list[str]:
    selector = f".chat-list[data-channel='{channel}'] .chat-text"
    return [str(t) for t in page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")]


def test_team_chat_is_for_members_and_unread_counts_show(
    browser: Browser, dev: Role, venue: Provisioned
) -> None:
    rocket = f"team:{venue.teams['Rocket']}"
    ada = _open(browser, f"{dev.base_url}/#token={venue.attendees[0]}")
    linus = _open(browser, f"{dev.base_url}/#token={venue.attendees[1]}")
    ada.wait_for_selector(f".chat-tab[data-channel='{rocket}']", timeout=15_000)
    assert linus.locator(f".chat-tab[data-channel='{rocket}']").count() == 0, "no tab for another team"

    _say(ada, rocket, "rocket only")
    forced = linus.evaluate(
        "(channel) => window.venuekit.session.request('chat_join', {channel})"
        ".then(() => 'joined', e => e.code)",
        rocket,
    )
    assert forced == "channel_not_found", "a non-member cannot read a team's chat"

    # Ada stays on her team tab; Linus writes in the event chat: Ada's event tab counts it
    _say(linus, "event", "hello everyone")
    ada.wait_for_function(
        "document.querySelector(\".chat-tab[data-channel='event'] .unread\").textContent === '1'",
        timeout=15_000,
    )
    ada.click(".chat-tab[data-channel='event']")
    assert ada.locator(".chat-tab[data-channel='event'] .unread").inner_text() == ""
    assert _texts(ada, "event") == ["hello everyone"]
    assert _texts(ada, rocket) == ["rocket only"]

    # entering a space adds its chat
    hall = venue.spaces["Hall"]
    for page in (ada, linus):
        page.click(f"#space-list button[data-space='{hall}']", timeout=15_000)
        page.wait_for_selector(f".chat-tab[data-channel='space:{hall}']", timeout=15_000)
    _say(linus, f"space:{hall}", "in the hall")
    ada.click(f".chat-tab[data-channel='space:{hall}']")
    ada.wait_for_function(
        f"[...document.querySelectorAll(\".chat-list[data-channel='space:{hall}'] .chat-text\")]"
        ".some(e => e.textContent === 'in the hall')",
        timeout=15_000,
    )
    ada.screenshot(path=screenshot_path("chat-tabs"))
    for page in (ada, linus):
        page.context.close()
