"""An organiser brings an attendee onto the stage; another attendee sees the new speaker.

Real headless Chromium for all three, a real `venuekit dev`; attendees join by ticket.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from loadtest.provision import Provisioned, provision, run_sync
from tests.support.browser import enter_space, screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEES_VIDEO_FROM = """
(who) => [...document.querySelectorAll('#video-grid video')]
  .some(v => v.dataset.participant === who && v.getVideoPlaybackQuality().totalVideoFrames > 5)
"""


@pytest.fixture(scope="module")
def venue(dev: Role) -> Provisioned:
    spaces = [{"name": "Main stage", "kind": "stage", "capacity": 50}]
    return run_sync(lambda: provision(dev.base_url, ["Olivia"], spaces, attendees=2, names=["Ada", "Grace"]))


def test_organiser_brings_an_attendee_on_stage_and_the_audience_sees_them(
    browser: Browser, dev: Role, venue: Provisioned
) -> None:
    stage = venue.spaces["Main stage"]
    olivia = enter_space(browser, f"{dev.base_url}/#token={venue.tokens['Olivia']}", stage)
    ada = enter_space(browser, f"{dev.base_url}/#token={venue.attendees[0]}", stage)
    grace = enter_space(browser, f"{dev.base_url}/#token={venue.attendees[1]}", stage)
    ada_id = ada.evaluate("window.venuekit.session.me")

    # attendees see no organiser controls, and the server refuses them if forced
    grace.wait_for_function("document.querySelectorAll('#people li').length === 3", timeout=15_000)
    assert grace.locator(".organiser-action").count() == 0
    forced = grace.evaluate(
        "(args) => window.venuekit.session.request('promote', args).then(() => 'accepted', e => e.code)",
        {"space_id": stage, "participant_id": ada_id},
    )
    assert forced == "forbidden"

    olivia.get_by_role("button", name="Invite to the stage: Ada").click(timeout=15_000)
    ada.wait_for_function("window.venuekit.media.pub !== null", timeout=15_000)
    grace.wait_for_function(SEES_VIDEO_FROM, arg=ada_id, timeout=30_000)
    olivia.wait_for_function(SEES_VIDEO_FROM, arg=ada_id, timeout=30_000)
    # the stage view: the live speaker's video is large, the active speaker is highlighted
    grace.wait_for_selector(f".tile.speaker video[data-participant='{ada_id}']", timeout=15_000)
    grace.wait_for_selector(f".tile.speaking video[data-participant='{ada_id}']", timeout=30_000)
    olivia.get_by_role("button", name="Spotlight Ada").click(timeout=15_000)
    grace.wait_for_selector(f".tile.spotlit video[data-participant='{ada_id}']", timeout=15_000)
    grace.click("button[data-reaction='heart']")
    ada.wait_for_selector("#reactions .reaction-count[data-reaction='heart']", timeout=15_000)
    grace.screenshot(path=screenshot_path("stage-audience-sees-speaker"))
    olivia.screenshot(path=screenshot_path("stage-organiser-controls"))
    assert "live" in olivia.locator("#people").inner_text()
    for page in (olivia, ada, grace):
        page.context.close()
