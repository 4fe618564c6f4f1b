"""An organiser opens breakouts by team: both attendees land in their team rooms, then come back."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from loadtest.provision import Provisioned, provision, run_sync
from tests.support.browser import enter_space, screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def venue(dev: Role) -> Provisioned:
    spaces = [{"name": "Networking", "kind": "room", "capacity": 30}]
    teams = {"Rocket": [0], "Comet": [1]}
    return run_sync(
        lambda: provision(dev.base_url, ["Olivia"], spaces, attendees=2, names=["Ada", "Linus"], teams=teams)
    )


def test_breakouts_by_team_move_attendees_to_their_team_rooms_and_back(
    browser: Browser, dev: Role, venue: Provisioned
) -> None:
    room = venue.spaces["Networking"]
    olivia = enter_space(browser, f"{dev.base_url}/#token={venue.tokens['Olivia']}", room)
    ada = enter_space(browser, f"{dev.base_url}/#token={venue.attendees[0]}", room)
    linus = enter_space(browser, f"{dev.base_url}/#token={venue.attendees[1]}", room)
    olivia.wait_for_function("document.querySelectorAll('#people li').length === 3", timeout=15_000)
    assert ada.locator("#toggle-breakouts").count() == 0, "attendees get no breakout controls"

    olivia.click("#toggle-breakouts")
    ada.wait_for_function("document.querySelector('#room-title').textContent === 'Rocket'", timeout=15_000)
    linus.wait_for_function("document.querySelector('#room-title').textContent === 'Comet'", timeout=15_000)
    assert ada.evaluate("window.venuekit.session.space.kind") == "team_room"
    assert linus.evaluate("window.venuekit.session.space.kind") == "team_room"
    ada.screenshot(path=screenshot_path("breakout-team-room"))

    olivia.wait_for_selector("#toggle-breakouts:has-text('Close breakouts')", timeout=15_000)
    olivia.click("#toggle-breakouts")
    for page in (ada, linus):
        page.wait_for_function(
            "document.querySelector('#room-title').textContent === 'Networking'", timeout=15_000
        )
    for page in (olivia, ada, linus):
        page.context.close()
