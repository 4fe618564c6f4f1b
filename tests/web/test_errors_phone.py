"""Errors the server returns are shown in words, on a phone-sized screen, driven by keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from loadtest.provision import Provisioned, provision, run_sync
from tests.support.browser import screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def venue(dev: Role) -> Provisioned:
    spaces = [{"name": "Tiny room", "kind": "room", "capacity": 1}]
    return run_sync(lambda: provision(dev.base_url, ["Olivia"], spaces, attendees=2, names=["Ada", "Grace"]))


def _phone(browser: Browser, url: str) -> Page:
    page = browser.new_context(viewport=PHONE, has_touch=True).new_page()  # type: ignore[arg-type]
    page.goto(url)
    return page


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Move the focus with Tab alone until ``selector`` has it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_broken_link_says_so(browser: Browser, dev: Role) -> None:
    page = _phone(browser, f"{dev.base_url}/#token=not.a.token")
    page.wait_for_selector("#view-error:not([hidden])", timeout=15_000)
    assert page.locator("#join-error").inner_text() == "This join link is not valid."
    _no_sideways_scroll(page)
    page.screenshot(path=screenshot_path("error-invalid-link-phone"), full_page=True)
    page.context.close()


def test_a_full_space_says_so_on_a_phone_with_the_keyboard(
    browser: Browser, dev: Role, venue: Provisioned
) -> None:
    room = venue.spaces["Tiny room"]
    ada = _phone(browser, f"{dev.base_url}/#token={venue.attendees[0]}")
    ada.wait_for_function("window.venuekit && window.venuekit.deviceCheck.ready", timeout=15_000)
    _tab_to(ada, f"#space-list button[data-space='{room}']")
    ada.keyboard.press("Enter")
    ada.wait_for_selector("#view-room:not([hidden])", timeout=15_000)
    _no_sideways_scroll(ada)
    ada.screenshot(path=screenshot_path("room-phone"), full_page=True)

    grace = _phone(browser, f"{dev.base_url}/#token={venue.attendees[1]}")
    grace.wait_for_function("window.venuekit && window.venuekit.deviceCheck.ready", timeout=15_000)
    grace.wait_for_selector(f"#space-list button[data-space='{room}']", timeout=15_000)
    _tab_to(grace, f"#space-list button[data-space='{room}']")
    grace.keyboard.press("Enter")
    toast = grace.locator(".toast", has_text="This space is full")
    toast.wait_for(timeout=15_000)
    box = toast.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert grace.locator("#view-room").is_hidden()
    _no_sideways_scroll(grace)
    grace.screenshot(path=screenshot_path("error-space-full-phone"), full_page=True)
    for page in (ada, grace):
        page.context.close()
