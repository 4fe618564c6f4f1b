"""The organiser console in real headless Chromium against a real `venuekit dev`.

An organiser signs in, creates an event with spaces, a team and ticket types, publishes and
starts it, sees an order and marks it paid, and watches the live panel count an attendee who
joins a room. An attendee gets no console, and the API refuses them when forced.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from loadtest.provision import Provisioned, provision, run_sync
from tests.support.browser import open_page, screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def org(dev: Role) -> Provisioned:
    return run_sync(lambda: provision(dev.base_url, ["Olivia"], []))


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.loads(refused.read())


def _submit(page: Page, form: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        selector = f"[data-form='{form}'] [name='{name}']"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click(f"[data-form='{form}'] button[type='submit']")


def _cells(page: Page, table: str) -> list[str]:
    return page.locator(f"[data-table='{table}'] tbody tr").all_inner_texts()


def test_organiser_plans_sells_and_runs_an_event_in_the_console(
    browser: Browser, dev: Role, org: Provisioned
) -> None:
    olivia = open_page(browser, f"{dev.base_url}/#console")
    _submit(olivia, "console-signin", {"email": org.owner_email, "password": org.password})
    olivia.wait_for_selector("[data-form='event-create']", timeout=15_000)
    assert "Hack Week" in olivia.locator("#console-events").inner_text(), "the provisioned event is listed"

    _submit(
        olivia,
        "event-create",
        {
            "title": "Demo Day",
            "starts_at": "2030-06-01T09:00",
            "ends_at": "2030-06-01T18:00",
            "capacity": "300",
        },
    )
    olivia.wait_for_selector("#console-event-title:has-text('Demo Day')", timeout=15_000)
    for name, kind in (("Keynote stage", "stage"), ("Hallway", "room")):
        _submit(olivia, "space-create", {"name": name, "kind": kind, "capacity": "40"})
        olivia.wait_for_selector(f"[data-table='spaces'] td:text-is('{name}')", timeout=15_000)
    _submit(olivia, "event-edit", {"title": "Demo Day 2030"})
    olivia.wait_for_selector("#console-event-title:has-text('Demo Day 2030')", timeout=15_000)
    olivia.click("[data-action='publish']")
    olivia.wait_for_selector("#event-state:text-is('published')", timeout=15_000)
    _submit(olivia, "team-create", {"name": "Rocket"})
    olivia.wait_for_selector("[data-table='teams'] td:text-is('Rocket')", timeout=15_000)
    # the team brings its own team room
    olivia.wait_for_selector("[data-table='spaces'] td:text-is('Rocket')", timeout=15_000)
    olivia.screenshot(path=screenshot_path("console-plan"), full_page=True)

    olivia.click("[data-tab='tickets']")
    _submit(olivia, "ticket-type-create", {"name": "Supporter", "price_minor": "1500", "quota": "20"})
    olivia.wait_for_selector("[data-table='ticket-types'] td:text-is('Supporter')", timeout=15_000)
    _submit(olivia, "ticket-type-create", {"name": "Free", "price_minor": "0", "quota": "50"})
    olivia.wait_for_selector("[data-table='ticket-types'] td:text-is('Free')", timeout=15_000)
    olivia.get_by_role("button", name="Edit ticket type Free").click()
    _submit(olivia, "ticket-type-edit", {"quota": "60"})
    olivia.wait_for_selector("[data-table='ticket-types'] td:text-is('0 / 60')", timeout=15_000)

    # someone buys tickets through the public API
    event_id = olivia.evaluate("window.venuekit.console.event.id")
    types = {t["name"]: t["id"] for t in olivia.evaluate("window.venuekit.console.panels.tickets.types")}
    base = f"{org.api}/orgs/{org.org_id}/events/{event_id}"
    orders = {}
    for name, buyer in (("Supporter", "Barbara"), ("Free", "Ada")):
        body = {
            "ticket_type_id": types[name],
            "quantity": 1,
            "buyer": {"name": buyer, "email": "b@example.com"},
        }
        status, placed = _post(base + "/orders", body, {"Idempotency-Key": uuid.uuid4().hex})
        assert status == 201, placed
        orders[buyer] = placed
    olivia.get_by_role("button", name="Refresh orders").click()
    olivia.wait_for_selector("[data-table='orders'] td:has-text('Barbara')", timeout=15_000)
    assert "pending" in olivia.locator("[data-table='orders'] tr:has-text('Barbara')").inner_text()
    olivia.get_by_role("button", name="Mark paid: order of Barbara").click()
    olivia.wait_for_selector("[data-table='orders'] tr:has-text('Barbara') .order-state:text-is('paid')")
    olivia.screenshot(path=screenshot_path("console-orders"), full_page=True)

    # live: start the event, open the live panel, an attendee joins the hallway
    olivia.click("[data-tab='plan']")
    olivia.click("[data-action='start']")
    olivia.wait_for_selector("#event-state:text-is('live')", timeout=15_000)
    olivia.click("[data-tab='live']")
    find_hallway = "[...window.venuekit.session.spaces.values()].find(s => s.title === 'Hallway')"
    olivia.wait_for_function(f"window.venuekit.session && {find_hallway}", timeout=15_000)
    hallway = olivia.evaluate(f"{find_hallway}.space_id")
    count = f"[data-table='live'] .live-count[data-space='{hallway}']"
    olivia.wait_for_selector(f"{count}:text-is('0')", timeout=15_000)

    code = orders["Ada"]["tickets"][0]["code"]
    status, issued = _post(
        base + "/join-tokens", {"display_name": "Ada"}, {"Authorization": f"Ticket {code}"}
    )
    assert status == 201, issued
    ada = open_page(browser, f"{dev.base_url}/#token={issued['token']}")
    ada.wait_for_function("window.venuekit && window.venuekit.deviceCheck.ready", timeout=15_000)
    ada.click(f"#space-list button[data-space='{hallway}']", timeout=15_000)
    ada.wait_for_selector("#view-room:not([hidden])", timeout=15_000)
    olivia.wait_for_selector(f"{count}:text-is('1')", timeout=15_000)

    # the organiser manages the hallway: Ada is listed with controls
    olivia.click(f"[data-manage='{hallway}']")
    olivia.wait_for_selector("[data-table='occupants'] td:text-is('Ada')", timeout=15_000)
    olivia.get_by_role("button", name="Lock Hallway").click()
    olivia.wait_for_selector("[data-table='live'] tr:has-text('Hallway') td:text-is('locked')")
    olivia.screenshot(path=screenshot_path("console-live"), full_page=True)

    # breakouts in groups of one from the console: Ada goes to a breakout room and comes back
    _submit(olivia, "breakouts", {"mode": "groups", "group_size": "1"})
    ada.wait_for_function("window.venuekit.session.space.kind === 'breakout'", timeout=15_000)
    olivia.click("#close-breakouts")
    ada.wait_for_function(f"window.venuekit.session.space.space_id === '{hallway}'", timeout=15_000)

    # a space planned while the event is live shows up in the live panel by itself
    olivia.click("[data-tab='plan']")
    _submit(olivia, "space-create", {"name": "Late room", "kind": "room", "capacity": "10"})
    olivia.wait_for_selector("[data-table='spaces'] td:text-is('Late room')", timeout=15_000)
    olivia.click("[data-tab='live']")
    olivia.wait_for_selector("[data-table='live'] td:text-is('Late room')", timeout=15_000)

    # an attendee gets no console, and the API refuses them when forced
    ada.goto(f"{dev.base_url}/#console")
    ada.reload()
    ada.wait_for_selector("[data-form='console-signin']", timeout=15_000)
    assert ada.locator("[data-form='event-create'], [data-table='live']").count() == 0
    forced = ada.evaluate(
        "(url) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({name: 'Sneaky', kind: 'room', capacity: 5})}).then(r => r.status)",
        f"/api/v1/orgs/{org.org_id}/events/{event_id}/spaces",
    )
    assert forced == 401
    status, refused = _post(
        base + "/spaces",
        {"name": "Sneaky", "kind": "room", "capacity": 5},
        {"Authorization": f"Ticket {code}"},
    )
    assert status in (401, 403), refused
    assert olivia.locator("[data-table='spaces'] td:text-is('Sneaky')").count() == 0

    for page in (olivia, ada):
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
        page.context.close()


def test_console_fits_a_phone(browser: Browser, dev: Role, org: Provisioned) -> None:
    page = open_page(browser, f"{dev.base_url}/#console", {"width": 390, "height": 844})
    _submit(page, "console-signin", {"email": org.owner_email, "password": org.password})
    page.wait_for_selector("#console-events button", timeout=15_000)
    page.locator("#console-events button").first.click()
    page.wait_for_selector("[data-table='spaces']", timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no horizontal scrolling"
    page.screenshot(path=screenshot_path("console-phone"), full_page=True)
    page.context.close()
