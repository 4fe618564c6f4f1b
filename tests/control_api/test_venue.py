"""Events and their lifecycle, spaces, agenda and teams over real HTTP."""

from __future__ import annotations

from typing import Any

from tests.control_api.conftest import Org
from tests.control_api.support import Api

EVENT = {
    "title": "Hack Week",
    "description": "Three days of building.",
    "time_zone": "Europe/Berlin",
    "starts_at": "2030-05-01T09:00:00+02:00",
    "ends_at": "2030-05-03T18:00:00+02:00",
    "capacity": 500,
    "team_size_max": 3,
}


async def create_event(org: Org, **changes: Any) -> dict[str, Any]:
    reply = await org.api.post(f"/orgs/{org.id}/events", {**EVENT, **changes}, expect=201)
    return dict(reply.body)


async def test_event_is_created_as_draft_and_listed(org: Org) -> None:
    event = await create_event(org)
    assert event["state"] == "draft"
    assert event["org_id"] == org.id
    listed = await org.api.get(f"/orgs/{org.id}/events", expect=200)
    assert [e["id"] for e in listed.body["items"]] == [event["id"]]
    assert (await org.api.get(f"/orgs/{org.id}/events/{event['id']}", expect=200)).body == event


async def test_lifecycle_allows_only_the_documented_transitions(org: Org) -> None:
    event = await create_event(org)
    base = f"/orgs/{org.id}/events/{event['id']}"
    for action in ("start", "end"):
        assert (await org.api.post(base + f"/{action}", expect=409)).code == "invalid_transition"
    assert (await org.api.post(base + "/publish", expect=200)).body["state"] == "published"
    assert (await org.api.post(base + "/publish", expect=409)).code == "invalid_transition"
    assert (await org.api.post(base + "/end", expect=409)).code == "invalid_transition"
    assert (await org.api.post(base + "/start", expect=200)).body["state"] == "live"
    assert (await org.api.post(base + "/end", expect=200)).body["state"] == "ended"
    for action in ("publish", "start", "end"):
        assert (await org.api.post(base + f"/{action}", expect=409)).code == "invalid_transition"
    assert (await org.api.patch(base, {"title": "Renamed"}, expect=409)).code == "event_not_editable"


async def test_edit_event_checks_time_zone_and_range(org: Org) -> None:
    event = await create_event(org)
    base = f"/orgs/{org.id}/events/{event['id']}"
    edited = await org.api.patch(base, {"title": "Hack Week 2", "capacity": 10}, expect=200)
    assert (edited.body["title"], edited.body["capacity"]) == ("Hack Week 2", 10)
    assert (await org.api.patch(base, {"time_zone": "Mars/Olympus"}, expect=422)).code == "invalid_time_zone"
    reply = await org.api.patch(base, {"ends_at": "2030-04-30T09:00:00+02:00"}, expect=422)
    assert reply.code == "invalid_time_range"
    assert (await org.api.get(base, expect=200)).body["title"] == "Hack Week 2"


async def test_create_event_refuses_bad_zone_and_range(org: Org) -> None:
    reply = await org.api.post(f"/orgs/{org.id}/events", {**EVENT, "time_zone": "Nowhere/City"}, expect=422)
    assert reply.code == "invalid_time_zone"
    reply = await org.api.post(f"/orgs/{org.id}/events", {**EVENT, "ends_at": EVENT["starts_at"]}, expect=422)
    assert reply.code == "invalid_time_range"
    assert (await org.api.get(f"/orgs/{org.id}/events", expect=200)).body["items"] == []


async def test_spaces_and_agenda_bound_to_stages(org: Org) -> None:
    event = await create_event(org)
    base = f"/orgs/{org.id}/events/{event['id']}"
    stage = (
        await org.api.post(base + "/spaces", {"name": "Main", "kind": "stage", "capacity": 400}, expect=201)
    ).body
    room = (
        await org.api.post(base + "/spaces", {"name": "Lounge", "kind": "room", "capacity": 20}, expect=201)
    ).body
    assert (
        await org.api.post(base + "/spaces", {"name": "T", "kind": "team_room", "capacity": 5}, expect=422)
    ).code
    spaces = await org.api.get(base + "/spaces", expect=200)
    assert {s["id"] for s in spaces.body["items"]} == {stage["id"], room["id"]}

    talk = {"title": "Keynote", "space_id": stage["id"], "starts_at": "2030-05-01T10:00:00+02:00"}
    second = await org.api.post(
        base + "/agenda", {**talk, "ends_at": "2030-05-01T11:00:00+02:00"}, expect=201
    )
    first = await org.api.post(
        base + "/agenda",
        {
            **talk,
            "title": "Welcome",
            "starts_at": "2030-05-01T09:00:00+02:00",
            "ends_at": "2030-05-01T09:30:00+02:00",
        },
        expect=201,
    )
    agenda = await org.api.get(base + "/agenda", expect=200)
    assert [a["id"] for a in agenda.body["items"]] == [first.body["id"], second.body["id"]]

    in_room = {**talk, "space_id": room["id"], "ends_at": "2030-05-01T11:00:00+02:00"}
    assert (await org.api.post(base + "/agenda", in_room, expect=422)).code == "space_not_stage"
    outside = {**talk, "starts_at": "2030-06-01T10:00:00+02:00", "ends_at": "2030-06-01T11:00:00+02:00"}
    assert (await org.api.post(base + "/agenda", outside, expect=422)).code == "invalid_time_range"


async def _every_event_route(api: Api, org_id: str, event_id: str) -> list[tuple[str, str, Any]]:
    base = f"/orgs/{org_id}/events/{event_id}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"title": "Stolen"}),
        ("POST", base + "/publish", None),
        ("POST", base + "/start", None),
        ("POST", base + "/end", None),
        ("GET", base + "/spaces", None),
        ("POST", base + "/spaces", {"name": "X", "kind": "room", "capacity": 2}),
        ("GET", base + "/agenda", None),
        ("POST", base + "/ticket-types", None),
        ("GET", base + "/orders", None),
        ("GET", base + "/teams", None),
    ]


async def test_tenants_never_see_or_change_each_others_events(org: Org, other_org: Org) -> None:
    event = await create_event(org)
    base = f"/orgs/{org.id}/events/{event['id']}"
    await org.api.post(base + "/spaces", {"name": "Main", "kind": "stage", "capacity": 10}, expect=201)
    # the other org's owner, through our org's path: not a member -> 404
    for method, path, body in await _every_event_route(other_org.api, org.id, event["id"]):
        reply = await other_org.api.call(method, path, body)
        assert (reply.status, reply.code) == (404, "not_found"), (method, path, reply)
    # ... and through their own org's path with our event id: no such event -> 404
    for method, path, body in await _every_event_route(other_org.api, other_org.id, event["id"]):
        reply = await other_org.api.call(method, path, body)
        assert (reply.status, reply.code) == (404, "not_found"), (method, path, reply)
    assert (await other_org.api.get(f"/orgs/{other_org.id}/events", expect=200)).body["items"] == []
    unchanged = await org.api.get(base, expect=200)
    assert unchanged.body == event
