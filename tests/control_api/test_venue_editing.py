"""Editing and deleting spaces and teams: names, capacities, kinds, size limits, captaincy."""

from __future__ import annotations

from control_api.ids import new_id
from tests.control_api.conftest import ClientFactory, Org
from tests.control_api.test_teams_and_tokens import holder, participant_of
from tests.control_api.test_tickets import open_shop


async def test_spaces_are_edited_and_deleted_within_their_rules(
    org: Org, other_org: Org, new_client: ClientFactory
) -> None:
    shop = await open_shop(org, new_client)
    stage = (
        await org.api.post(
            shop.base + "/spaces", {"name": "Main", "kind": "stage", "capacity": 200}, expect=201
        )
    ).body
    space = f"{shop.base}/spaces/{stage['id']}"
    edited = await org.api.patch(space, {"name": "Main stage", "capacity": 300}, expect=200)
    assert (edited.body["name"], edited.body["capacity"], edited.body["kind"]) == ("Main stage", 300, "stage")
    await org.api.patch(space, {}, expect=422)
    await org.api.patch(space, {"kind": "team_room"}, expect=422)
    await org.api.patch(space, {"capacity": 0}, expect=422)
    await other_org.api.patch(space, {"name": "mine"}, expect=404)
    await org.api.patch(f"{shop.base}/spaces/{new_id('spc')}", {"name": "x"}, expect=404)

    # a stage with agenda sessions stays a stage and cannot be deleted
    await org.api.post(
        shop.base + "/agenda",
        {
            "title": "Keynote",
            "space_id": stage["id"],
            "starts_at": "2030-05-01T10:00:00+02:00",
            "ends_at": "2030-05-01T11:00:00+02:00",
        },
        expect=201,
    )
    assert (await org.api.patch(space, {"kind": "room"}, expect=409)).code == "space_has_agenda"
    assert (await org.api.delete(space, expect=409)).code == "space_has_agenda"

    room = (
        await org.api.post(
            shop.base + "/spaces", {"name": "Hall", "kind": "room", "capacity": 20}, expect=201
        )
    ).body
    made_stage = await org.api.patch(f"{shop.base}/spaces/{room['id']}", {"kind": "stage"}, expect=200)
    assert made_stage.body["kind"] == "stage"
    await org.api.delete(f"{shop.base}/spaces/{room['id']}", expect=204)
    await org.api.delete(f"{shop.base}/spaces/{room['id']}", expect=404)
    names = [s["name"] for s in (await org.api.get(shop.base + "/spaces", expect=200)).body["items"]]
    assert names == ["Main stage"]

    # a team room belongs to its team
    tt = await shop.ticket_type()
    captain, _ = await holder(shop, new_client, tt["id"])
    team = (await captain.post(shop.base + "/teams", {"name": "Rocket"}, expect=201)).body
    team_room = f"{shop.base}/spaces/{team['space_id']}"
    assert (await org.api.patch(team_room, {"kind": "room"}, expect=409)).code == "space_is_team_room"
    assert (await org.api.delete(team_room, expect=409)).code == "space_is_team_room"
    await org.api.patch(team_room, {"capacity": 9}, expect=200)
    await captain.patch(team_room, {"capacity": 90}, expect=401)  # ticket holders do not edit spaces

    await org.api.post(shop.base + "/end", expect=409)  # published -> ended is not a transition
    await org.api.post(shop.base + "/start", expect=200)
    await org.api.post(shop.base + "/end", expect=200)
    assert (await org.api.patch(space, {"name": "late"}, expect=409)).code == "event_not_editable"


async def test_teams_are_renamed_handed_over_resized_and_deleted(
    org: Org, other_org: Org, new_client: ClientFactory
) -> None:
    shop = await open_shop(org, new_client)  # team_size_max is 3
    tt = await shop.ticket_type()
    captain, captain_ticket = await holder(shop, new_client, tt["id"])
    team = (await captain.post(shop.base + "/teams", {"name": "Rocket"}, expect=201)).body
    url = f"{shop.base}/teams/{team['id']}"
    member, member_ticket = await holder(shop, new_client, tt["id"])
    await member.post(url + "/members", expect=200)
    member_pid = await participant_of(shop, member_ticket)
    captain_pid = await participant_of(shop, captain_ticket)

    assert (await member.patch(url, {"name": "Mine"}, expect=403)).code == "forbidden"
    renamed = await captain.patch(url, {"name": "Rocket Science"}, expect=200)
    assert renamed.body["name"] == "Rocket Science"
    rooms = {s["id"]: s["name"] for s in (await org.api.get(shop.base + "/spaces", expect=200)).body["items"]}
    assert rooms[team["space_id"]] == "Rocket Science"
    assert (await captain.patch(url, {"size_max": 10}, expect=403)).code == "forbidden"
    outsider, outsider_ticket = await holder(shop, new_client, tt["id"])
    outsider_pid = await participant_of(shop, outsider_ticket)
    reply = await captain.patch(url, {"captain": outsider_pid}, expect=409)
    assert reply.code == "not_in_team"
    handed = await captain.patch(url, {"captain": member_pid}, expect=200)
    assert handed.body["captain"] == member_pid
    # the former captain may leave now; the new one may not while others remain
    await captain.delete(f"{url}/members/{captain_pid}", expect=200)
    await member.post(shop.base + "/teams", {"name": "Second"}, expect=409)

    # the organiser resizes, never below the members the team has
    await outsider.post(url + "/members", expect=200)
    assert (await org.api.patch(url, {"size_max": 1}, expect=409)).code == "team_full"
    resized = await org.api.patch(url, {"size_max": 2}, expect=200)
    assert resized.body["size_max"] == 2
    late, _ = await holder(shop, new_client, tt["id"])
    assert (await late.post(url + "/members", expect=409)).code == "team_full"
    await other_org.api.patch(url, {"name": "x"}, expect=404)
    await other_org.api.delete(url, expect=404)

    # deleting a team frees its members and removes its room
    await member.delete(url, expect=401)  # ticket holders do not delete teams
    await org.api.delete(url, expect=204)
    await org.api.delete(url, expect=404)
    spaces = (await org.api.get(shop.base + "/spaces", expect=200)).body["items"]
    assert team["space_id"] not in {s["id"] for s in spaces}
    again = await member.post(shop.base + "/teams", {"name": "Phoenix"}, expect=201)
    assert again.body["captain"] == member_pid
