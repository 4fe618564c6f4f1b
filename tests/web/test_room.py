"""Two people in a room, in real headless Chromium with fake devices, through a real ``venuekit dev``."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from loadtest.provision import Provisioned, provision, run_sync
from tests.support.browser import screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def venue(dev: Role) -> Provisioned:
    spaces = [
        {"name": "Hall", "kind": "room", "capacity": 10},
        {"name": "Main stage", "kind": "stage", "capacity": 50},
    ]
    return run_sync(lambda: provision(dev.base_url, ["Ada", "Grace"], spaces))


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function("window.venuekit && window.venuekit.deviceCheck.ready", timeout=15_000)
    page.wait_for_selector("#space-list button", timeout=15_000)
    assert errors == [], errors
    return page


REMOTE_FRAMES = """
() => {
  const me = window.venuekit.session.me;
  const videos = [...document.querySelectorAll('#video-grid video')]
    .filter(v => v.dataset.participant && v.dataset.participant !== me);
  return videos.some(v => v.getVideoPlaybackQuality().totalVideoFrames > 5 && v.currentTime > 0);
}
"""

AUDIO_PACKETS = """
async () => {
  const pc = window.venuekit.media.sub;
  if (!pc) return 0;
  let received = 0;
  (await pc.getStats()).forEach(r => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') received += r.packetsReceived;
  });
  return received;
}
"""


def test_two_participants_see_and_hear_each_other_and_chat(
    browser: Browser, dev: Role, venue: Provisioned
) -> None:
    ada = _open(browser, f"{dev.base_url}/#token={venue.tokens['Ada']}")
    grace = _open(browser, f"{dev.base_url}/#token={venue.tokens['Grace']}")
    hall = venue.spaces["Hall"]
    for page in (ada, grace):
        page.click(f"#space-list button[data-space='{hall}']")
        page.wait_for_selector("#view-room:not([hidden])", timeout=15_000)
    for page in (ada, grace):
        page.wait_for_function(REMOTE_FRAMES, timeout=30_000)
        page.wait_for_function(f"({AUDIO_PACKETS})().then(n => n > 20)", timeout=30_000)
    names = grace.locator("#people li").all_inner_texts()
    assert any("Ada" in n for n in names) and any("Grace" in n for n in names)
    ada.screenshot(path=screenshot_path("room-two-participants"))

    ada.fill("#chat-input", "<img src=x onerror=alert(1)> hello Grace")
    ada.press("#chat-input", "Enter")
    grace.wait_for_function(
        "[...document.querySelectorAll('#chat-list .chat-text')]"
        ".some(e => e.textContent.includes('hello Grace'))",
        timeout=15_000,
    )
    assert grace.locator("#chat-list img").count() == 0, "chat text must never be rendered as HTML"

    ada.click("#leave-room")
    ada.wait_for_selector("#view-lobby:not([hidden])", timeout=15_000)
    for page in (ada, grace):
        page.context.close()
