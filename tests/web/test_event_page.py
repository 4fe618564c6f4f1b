"""The participant's event page and the lobby's agenda in real headless Chromium against `venuekit dev`.

An attendee opens the event page, sees the title and the agenda (the session happening now
marked), is told clearly when a ticket code is wrong, redeems the right one, passes the consent
step and arrives in the lobby, which lists the agenda. Others get in with an invite code or a
free ticket. A draft's page says it cannot be found; a sold-out event says so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from loadtest.provision import EVENT, Provisioned, cookie_session, expect, provision, run_sync
from tests.support.browser import open_page, screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPACES = [
    {"name": "Main stage", "kind": "stage", "capacity": 50},
    {"name": "Networking", "kind": "room", "capacity": 20},
]
FREE_TYPE = {
    "price_minor": 0,
    "currency": "EUR",
    "sales_start": "2020-01-01T00:00:00Z",
    "sales_end": "2099-01-01T00:00:00Z",
    "per_order_max": 2,
}


@dataclass
class Venue:
    provisioned: Provisioned
    invite_code: str
    draft_event_id: str
    sold_out_event_id: str

    def page_url(self, base_url: str, event_id: str | None = None) -> str:
        return f"{base_url}/#/e/{self.provisioned.org_id}/{event_id or self.provisioned.event_id}"


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


async def _plan(venue: Provisioned) -> tuple[str, str, str]:
    """Move the event around now with two agenda sessions (one running), add an invite-only
    ticket type and its invite, a draft event and a sold-out one."""
    now = datetime.now(UTC)
    async with cookie_session() as owner:
        login = {"email": venue.owner_email, "password": venue.password}
        csrf = {
            "X-CSRF-Token": (await expect(await owner.post(venue.api + "/sessions", json=login), 201))[
                "csrf_token"
            ]
        }

        async def post(path: str, body: dict[str, Any] | None, status: int = 201) -> Any:
            return await expect(await owner.post(venue.api + path, json=body, headers=csrf), status)

        times = {"starts_at": _iso(now - timedelta(hours=2)), "ends_at": _iso(now + timedelta(hours=4))}
        await expect(await owner.patch(venue.event_base, json=times, headers=csrf), 200)
        evt = f"/orgs/{venue.org_id}/events/{venue.event_id}"
        stage = venue.spaces["Main stage"]
        sessions = [
            ("Opening keynote", now - timedelta(minutes=30), now + timedelta(minutes=30)),
            ("Demo hour", now + timedelta(hours=1), now + timedelta(hours=2)),
        ]
        for title, start, end in sessions:
            item = {"title": title, "space_id": stage, "starts_at": _iso(start), "ends_at": _iso(end)}
            await post(evt + "/agenda", item)
        guests = await post(
            evt + "/ticket-types", {**FREE_TYPE, "name": "Guests", "quota": 5, "invite_only": True}
        )
        invite = await post(evt + "/invites", {"ticket_type_id": guests["id"], "max_uses": 3})

        draft = await post(f"/orgs/{venue.org_id}/events", {**EVENT, "title": "Secret plans"})
        full = await post(f"/orgs/{venue.org_id}/events", {**EVENT, "title": "Tiny meetup", "capacity": 1})
        full_evt = f"/orgs/{venue.org_id}/events/{full['id']}"
        await post(full_evt + "/publish", None, 200)
        tiny = await post(full_evt + "/ticket-types", {**FREE_TYPE, "name": "Seat", "quota": 1})
    async with cookie_session() as public:
        order = {
            "ticket_type_id": tiny["id"],
            "quantity": 1,
            "buyer": {"name": "Early", "email": "e@example.com"},
        }
        reply = await public.post(
            venue.api + full_evt + "/orders", json=order, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        await expect(reply, 201)
    return str(invite["code"]), str(draft["id"]), str(full["id"])


@pytest.fixture(scope="module")
def venue(dev: Role) -> Venue:
    provisioned = run_sync(lambda: provision(dev.base_url, ["Olivia"], SPACES, attendees=2, on_sale=3))
    invite, draft, full = run_sync(lambda: _plan(provisioned))
    return Venue(provisioned, invite, draft, full)


def _consent(page: Page) -> None:
    page.wait_for_selector("#view-consent", timeout=15_000)
    page.check("#consent-terms")
    page.click("#consent-submit")


def _in_lobby_with_agenda(page: Page) -> None:
    page.wait_for_selector("#space-list button", timeout=20_000)
    page.wait_for_selector("#lobby-agenda .agenda-item", timeout=15_000)
    titles = page.locator("#lobby-agenda .agenda-title").all_inner_texts()
    assert titles == ["Opening keynote", "Demo hour"], titles
    now = page.locator("#lobby-agenda [aria-current='true']")
    assert now.count() == 1 and "Opening keynote" in now.inner_text() and "Now" in now.inner_text()


def test_attendee_redeems_a_ticket_code_on_the_event_page_and_sees_the_agenda_in_the_lobby(
    browser: Browser, dev: Role, venue: Venue
) -> None:
    ada = open_page(browser, venue.page_url(dev.base_url))
    ada.wait_for_selector("#event-agenda .agenda-item", timeout=15_000)
    assert ada.locator("#event-title").inner_text() == "Hack Week"
    assert ada.locator("#event-description").inner_text() == EVENT["description"]
    items = ada.locator("#event-agenda .agenda-item").all_inner_texts()
    assert len(items) == 2 and "Opening keynote" in items[0] and "on Main stage" in items[0], items
    assert "Opening keynote" in ada.locator("#event-agenda [aria-current='true']").inner_text()
    # the free ticket type and the invite-only one are both on sale: every way in is offered
    for form in ("#ticket-form", "#invite-form", "#free-form"):
        assert ada.locator(form).is_visible(), form
    assert (
        ada.locator("#event-sso")
        .get_attribute("href", timeout=1_000)
        .startswith(  # type: ignore[union-attr]
            f"/api/v1/orgs/{venue.provisioned.org_id}/sso/login?next="
        )
    )
    ada.screenshot(path=screenshot_path("event-page"), full_page=True)

    # a wrong code, typed and sent with the keyboard: a clear message, still on the event page
    ada.focus("#ticket-code")
    ada.keyboard.type("not-a-real-code")
    ada.keyboard.press("Enter")
    _consent(ada)
    ada.wait_for_selector("#event-error:not([hidden])", timeout=15_000)
    assert ada.locator("#event-error").inner_text().startswith("This ticket code is not valid")
    assert ada.locator("#view-event").is_visible()

    ada.fill("#ticket-code", venue.provisioned.ticket_codes[0])
    ada.fill("#ticket-name", "Ada")
    ada.press("#ticket-name", "Enter")  # the consent answer is remembered: no second consent step
    _in_lobby_with_agenda(ada)
    assert "ticket=" in ada.evaluate("location.hash"), "a reload goes straight back in"
    ada.screenshot(path=screenshot_path("lobby-agenda"))
    assert ada.errors == []  # type: ignore[attr-defined]
    ada.context.close()


def test_invite_code_and_free_ticket_lead_into_the_lobby(browser: Browser, dev: Role, venue: Venue) -> None:
    grace = open_page(browser, venue.page_url(dev.base_url))
    grace.wait_for_selector("#invite-form", timeout=15_000)
    grace.fill("#invite-code", "wrong-invite")
    grace.fill("#invite-name", "Grace")
    grace.fill("#invite-email", "grace@example.com")
    grace.click("#invite-form button[type='submit']")
    grace.wait_for_selector("#event-error:not([hidden])", timeout=15_000)
    assert grace.locator("#event-error").inner_text() == "This invite code is not valid. Check it for typos."
    grace.fill("#invite-code", venue.invite_code)
    grace.click("#invite-form button[type='submit']")
    grace.wait_for_selector("#issued-code", timeout=15_000)
    assert len(grace.locator("#issued-code").inner_text()) > 10
    grace.click("#issued-continue")
    _consent(grace)
    _in_lobby_with_agenda(grace)
    assert grace.evaluate("window.venuekit.session.me") is not None
    grace.context.close()

    # a phone-sized screen: the free ticket, nothing wider than the screen
    linus = open_page(browser, venue.page_url(dev.base_url), {"width": 390, "height": 844})
    linus.wait_for_selector("#free-form", timeout=15_000)
    assert linus.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    linus.fill("#free-name", "Linus")
    linus.fill("#free-email", "linus@example.com")
    linus.click("#free-form button[type='submit']")
    linus.wait_for_selector("#issued-continue", timeout=15_000)
    linus.keyboard.press("Enter")  # the continue button has the focus
    _consent(linus)
    _in_lobby_with_agenda(linus)
    linus.screenshot(path=screenshot_path("lobby-agenda-phone"), full_page=True)
    for page in (grace, linus):
        assert page.errors == []  # type: ignore[attr-defined]
    linus.context.close()


def test_a_draft_cannot_be_found_and_a_sold_out_event_says_so(
    browser: Browser, dev: Role, venue: Venue
) -> None:
    page = open_page(browser, venue.page_url(dev.base_url, venue.draft_event_id))
    page.wait_for_selector("#event-missing", timeout=15_000)
    assert page.locator("#event-title").inner_text() == "Event not found"
    assert "cannot find this event" in page.locator("#event-missing").inner_text()
    assert "Secret plans" not in page.content()

    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()

    page = open_page(browser, venue.page_url(dev.base_url, venue.sold_out_event_id))
    page.wait_for_selector("#free-form", timeout=15_000)
    assert page.locator("#event-title").inner_text() == "Tiny meetup"
    sold_out = page.locator("#free-form button[type='submit']")
    assert sold_out.inner_text() == "Sold out" and sold_out.is_disabled()
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
