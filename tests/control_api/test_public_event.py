"""The public event page endpoint: published events only, public fields only, no other tenant's data."""

from __future__ import annotations

from tests.control_api.conftest import ClientFactory, Org
from tests.control_api.test_tickets import TICKET_TYPE
from tests.control_api.test_venue import create_event

PUBLIC_EVENT_FIELDS = {
    "id",
    "org_id",
    "title",
    "description",
    "time_zone",
    "starts_at",
    "ends_at",
    "state",
    "agenda",
    "ticket_types",
}


async def test_a_draft_is_not_found_and_a_published_event_shows_only_public_fields(
    org: Org, new_client: ClientFactory
) -> None:
    event = await create_event(org, title="Demo Day", capacity=2)
    base = f"/orgs/{org.id}/events/{event['id']}"
    stage = (
        await org.api.post(
            base + "/spaces", {"name": "Main stage", "kind": "stage", "capacity": 50}, expect=201
        )
    ).body
    session = {
        "title": "Keynote",
        "space_id": stage["id"],
        "starts_at": "2030-05-01T10:00:00+02:00",
        "ends_at": "2030-05-01T11:00:00+02:00",
    }
    await org.api.post(base + "/agenda", session, expect=201)
    await org.api.post(base + "/ticket-types", {**TICKET_TYPE, "name": "Free"}, expect=201)
    closed = {"sales_start": "2020-01-01T00:00:00Z", "sales_end": "2021-01-01T00:00:00Z"}
    await org.api.post(base + "/ticket-types", {**TICKET_TYPE, "name": "Early", **closed}, expect=201)
    await org.api.post(
        base + "/ticket-types", {**TICKET_TYPE, "name": "Guests", "invite_only": True}, expect=201
    )
    public = await new_client()

    draft = await public.get(base + "/public", expect=404)
    assert draft.code == "not_found"
    assert "Demo Day" not in str(draft.body), "a draft's 404 says nothing about it"
    assert (await public.get(f"/orgs/{org.id}/events/evt_nope/public", expect=404)).code == "not_found"

    await org.api.post(base + "/publish", expect=200)
    page = (await public.get(base + "/public", expect=200)).body
    assert set(page) == PUBLIC_EVENT_FIELDS  # no capacity, team size, creation time
    assert (page["title"], page["state"]) == ("Demo Day", "published")
    assert [(a["title"], a["space_name"]) for a in page["agenda"]] == [("Keynote", "Main stage")]
    # only what is on sale now; never quotas or how many were sold
    assert [(t["name"], t["invite_only"], t["sold_out"]) for t in page["ticket_types"]] == [
        ("Free", False, False),
        ("Guests", True, False),
    ]
    assert not {"quota", "sold", "role", "sales_start"} & set(page["ticket_types"][0])


async def test_sold_out_is_shown_and_ended_events_sell_nothing(org: Org, new_client: ClientFactory) -> None:
    event = await create_event(org, capacity=1)
    base = f"/orgs/{org.id}/events/{event['id']}"
    made = (await org.api.post(base + "/ticket-types", TICKET_TYPE, expect=201)).body
    await org.api.post(base + "/publish", expect=200)
    public = await new_client()
    order = {
        "ticket_type_id": made["id"],
        "quantity": 1,
        "buyer": {"name": "Ada", "email": "ada@example.com"},
    }
    await public.post(base + "/orders", order, headers={"Idempotency-Key": "k" * 20}, expect=201)
    page = (await public.get(base + "/public", expect=200)).body
    assert [t["sold_out"] for t in page["ticket_types"]] == [True], "the event's capacity is reached"

    await org.api.post(base + "/start", expect=200)
    await org.api.post(base + "/end", expect=200)
    ended = (await public.get(base + "/public", expect=200)).body
    assert (ended["state"], ended["ticket_types"]) == ("ended", [])


async def test_another_tenants_event_is_not_found_under_this_org(
    org: Org, other_org: Org, new_client: ClientFactory
) -> None:
    theirs = await create_event(other_org, title="Globex secret")
    await other_org.api.post(f"/orgs/{other_org.id}/events/{theirs['id']}/publish", expect=200)
    public = await new_client()
    await public.get(f"/orgs/{other_org.id}/events/{theirs['id']}/public", expect=200)
    crossed = await public.get(f"/orgs/{org.id}/events/{theirs['id']}/public", expect=404)
    assert crossed.code == "not_found"
