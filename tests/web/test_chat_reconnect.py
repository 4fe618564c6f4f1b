"""Browser chat across a network drop: the messages sent meanwhile show up exactly once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from loadtest.provision import Provisioned, provision, run_sync
from tests.support.browser import screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHAT_TEXTS = "[...document.querySelectorAll('#chat-list .chat-text')].map(e => e.textContent)"


@pytest.fixture(scope="module")
def venue(dev: Role) -> Provisioned:
    return run_sync(lambda: provision(dev.base_url, ["Ada", "Grace"], []))


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(url)
    page.wait_for_selector("#space-list", state="attached", timeout=15_000)
    page.wait_for_function("window.venuekit && window.venuekit.session.me", timeout=15_000)
    return page


def _send(page: Page, text: str) -> None:
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    page.wait_for_function("document.querySelector('#chat-input').value === ''", timeout=10_000)


def test_messages_sent_while_offline_arrive_once_after_the_reconnect(
    browser: Browser, dev: Role, venue: Provisioned
) -> None:
    ada = _open(browser, f"{dev.base_url}/#token={venue.tokens['Ada']}")
    grace = _open(browser, f"{dev.base_url}/#token={venue.tokens['Grace']}")
    _send(ada, "before the drop")
    grace.wait_for_function(f"{CHAT_TEXTS}.includes('before the drop')", timeout=10_000)

    # drop Grace's connection as a network failure would, and keep her away for a moment
    grace.evaluate(
        "() => { const s = window.venuekit.session.socket;"
        " s.io.opts.reconnectionDelay = 2000; s.io.opts.reconnectionDelayMax = 2000;"
        " s.io.engine.close(); }"
    )
    grace.wait_for_function("document.querySelector('#server-status').textContent.includes('reconnecting')")
    missed = [f"while away {n}" for n in range(3)]
    for text in missed:
        _send(ada, text)
    grace.wait_for_function(
        "document.querySelector('#server-status').textContent === 'connected'", timeout=20_000
    )
    grace.wait_for_function(f"{CHAT_TEXTS}.includes('{missed[-1]}')", timeout=15_000)
    _send(ada, "after the return")
    grace.wait_for_function(f"{CHAT_TEXTS}.includes('after the return')", timeout=10_000)

    texts = grace.evaluate(CHAT_TEXTS)
    assert texts == ["before the drop", *missed, "after the return"], texts
    grace.screenshot(path=screenshot_path("chat-after-reconnect"))
    for page in (ada, grace):
        page.context.close()
