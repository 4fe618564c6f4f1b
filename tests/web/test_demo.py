"""`venuekit dev --demo`: the printed links work in a real browser (ticket link, organiser sign-in)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.support.browser import open_page, screenshot_path
from tests.support.processes import Role, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DEMO_VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Role]:
    role = Role("dev", Path(tmp_path_factory.mktemp("demo")), extra_args=["--demo"])
    try:  # a failed start must not leave the process running after the suite
        role.wait_ready()
        assert wait_until(lambda: "attendee Linus" in role.output(), timeout_s=30), role.output()
        yield role
    finally:
        role.stop()


def test_demo_prints_working_links_for_attendees_and_the_organiser(browser: Browser, demo: Role) -> None:
    out = demo.output()
    ada_url = re.search(r"attendee Ada \(team Rocket\): (\S+)", out)
    organiser = re.search(r"organiser Olivia: (\S+)\n\s+sign in as (\S+) / (\S+)", out)
    assert ada_url and organiser, out

    ada = open_page(browser, ada_url.group(1), DEMO_VIEWPORT)
    # the consent step comes first: terms are required, analytics is left unticked (declined)
    ada.wait_for_selector("#view-consent", timeout=20_000)
    assert ada.locator("#consent-submit").is_disabled()
    ada.check("#consent-terms")
    ada.check("#consent-recording")
    ada.click("#consent-submit")
    ada.wait_for_selector("#space-list button", timeout=20_000)
    claims = ada.evaluate(
        "JSON.parse(atob(window.venuekit.session.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))"
    )
    assert claims["anl"] is False  # declined analytics rides the join token
    assert ada.evaluate("JSON.parse(localStorage.getItem(Object.keys(localStorage)[0])).recording") is True
    titles = ada.locator("#space-list .space-title").all_inner_texts()
    assert {"Main stage", "Networking", "Workshop", "Rocket"} <= set(titles), titles
    ada.screenshot(path=screenshot_path("lobby-attendee"))

    olivia = open_page(browser, organiser.group(1), DEMO_VIEWPORT)
    olivia.wait_for_selector("#signin-form")
    olivia.fill("#signin-email", organiser.group(2))
    olivia.fill("#signin-password", "not the password")
    olivia.click("#signin-form button")
    olivia.wait_for_selector("#signin-error:not([hidden])")
    assert "not right" in olivia.locator("#signin-error").inner_text()
    olivia.fill("#signin-password", organiser.group(3))
    olivia.click("#signin-form button")
    olivia.wait_for_selector("#space-list button", timeout=20_000)
    assert olivia.evaluate("window.venuekit.session.me") is not None

    # the printed console link opens the live panel of the demo event (already signed in)
    console_url = re.search(r"organiser console \(same sign-in\): (\S+)", out)
    assert console_url, out
    console = olivia.context.new_page()
    console.goto(console_url.group(1))
    console.wait_for_selector("[data-table='live'] td:text-is('Main stage')", timeout=20_000)
    assert console.locator("#console-event-title").inner_text() == "Hack Week"
    console.close()

    # the printed event page shows the demo's agenda and offers a free ticket to newcomers
    event_url = re.search(r"event page \(redeem a ticket code, or get a free ticket\): (\S+)", out)
    assert event_url, out
    newcomer = open_page(browser, event_url.group(1), DEMO_VIEWPORT)
    newcomer.wait_for_selector("#event-agenda .agenda-item", timeout=20_000)
    assert newcomer.locator("#event-title").inner_text() == "Hack Week"
    assert newcomer.locator("#event-agenda .agenda-title").all_inner_texts() == [
        "Opening keynote",
        "Demo hour",
    ]
    assert newcomer.locator("#free-form button[type='submit']").is_enabled()
    ada.wait_for_selector("#lobby-agenda .agenda-item")  # the lobby lists the agenda too
    for page in (ada, olivia, newcomer):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
