"""The browser client's device check in real headless Chromium with a fake camera and microphone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.support.browser import screenshot_path
from tests.support.processes import Role

pytestmark = pytest.mark.browser


def _open(browser: Browser, url: str, viewport: dict[str, int]) -> Page:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function("window.venuekit && window.venuekit.deviceCheck.ready")
    assert errors == []
    return page


def test_preview_plays_and_microphone_is_heard(browser: Browser, dev: Role) -> None:
    page = _open(browser, dev.base_url + "/", {"width": 1280, "height": 800})
    page.wait_for_function(
        "() => { const v = document.querySelector('#preview');"
        " return v.getVideoPlaybackQuality().totalVideoFrames > 10 && v.currentTime > 0.3; }",
        timeout=15_000,
    )
    page.wait_for_function("document.querySelector('#mic-level').value > 0.01", timeout=15_000)
    assert page.locator("#server-status").inner_text() == "server ready"
    assert page.locator("#camera-select option").count() >= 1
    assert page.locator("#microphone-select option").count() >= 1
    page.screenshot(path=screenshot_path("device-check-laptop"))
    page.context.close()


def test_keyboard_shortcuts_mute_and_hide_camera(browser: Browser, dev: Role) -> None:
    page = _open(browser, dev.base_url + "/", {"width": 1280, "height": 800})
    page.keyboard.press("m")
    assert page.locator("#toggle-mic").get_attribute("aria-pressed") == "true"
    assert page.evaluate("window.venuekit.deviceCheck.stream.getAudioTracks()[0].enabled") is False
    page.keyboard.press("v")
    assert page.locator("#toggle-camera").get_attribute("aria-pressed") == "true"
    assert page.evaluate("window.venuekit.deviceCheck.stream.getVideoTracks()[0].enabled") is False
    page.keyboard.press("m")
    assert page.evaluate("window.venuekit.deviceCheck.stream.getAudioTracks()[0].enabled") is True
    page.context.close()


def test_fits_a_phone_screen(browser: Browser, dev: Role) -> None:
    page = _open(browser, dev.base_url + "/", {"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "no horizontal scrolling on a phone"
    page.screenshot(path=screenshot_path("device-check-phone"), full_page=True)
    page.context.close()
