"""Hackathon teams and join tokens over HTTP: ticket holders, organisers, JWKS, revocation."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import redis.asyncio as aioredis

from control_api.revocation import CHANNEL, is_revoked
from control_api.tokens import TokenError, verify
from tests.control_api.conftest import ClientFactory, Org, sign_in
from tests.control_api.support import PASSWORD, Api
from tests.control_api.test_tickets import Shop, open_shop


async def holder(shop: Shop, new_client: ClientFactory, type_id: str) -> tuple[Api, dict[str, Any]]:
    """A fresh client that presents one new ticket of ``type_id``."""
    ticket = (await shop.order(type_id)).body["tickets"][0]
    api = await new_client()
    api.headers["Authorization"] = f"Ticket {ticket['code']}"
    return api, ticket


async def participant_of(shop: Shop, ticket: dict[str, Any]) -> str:
    view = await shop.org.api.get(shop.base + f"/tickets/{ticket['id']}", expect=200)
    return str(view.body["participant_id"])


async def test_teams_have_a_captain_a_size_limit_and_a_room(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)  # team_size_max is 3
    tt = await shop.ticket_type()
    captain, captain_ticket = await holder(shop, new_client, tt["id"])
    team = (await captain.post(shop.base + "/teams", {"name": "Rocket"}, expect=201)).body
    captain_pid = await participant_of(shop, captain_ticket)
    assert (team["captain"], team["members"], team["size_max"]) == (captain_pid, [captain_pid], 3)
    room = [
        s
        for s in (await org.api.get(shop.base + "/spaces", expect=200)).body["items"]
        if s["kind"] == "team_room"
    ]
    assert [(r["id"], r["team_id"]) for r in room] == [(team["space_id"], team["id"])]

    members = [await holder(shop, new_client, tt["id"]) for _ in range(3)]
    results = await asyncio.gather(*(m.post(shop.base + f"/teams/{team['id']}/members") for m, _ in members))
    assert sorted(r.status for r in results) == [200, 200, 409]
    assert [r.code for r in results if r.status == 409] == ["team_full"]
    joined = [(m, t) for (m, t), r in zip(members, results, strict=True) if r.status == 200]
    first, first_ticket = joined[0]
    assert (await first.post(shop.base + "/teams", {"name": "Other"}, expect=409)).code == "already_in_team"

    reply = await captain.delete(shop.base + f"/teams/{team['id']}/members/{captain_pid}", expect=409)
    assert reply.code == "captain_cannot_leave"
    first_pid = await participant_of(shop, first_ticket)
    reply = await first.delete(shop.base + f"/teams/{team['id']}/members/{captain_pid}", expect=403)
    assert reply.code == "forbidden"
    left = await first.delete(shop.base + f"/teams/{team['id']}/members/{first_pid}", expect=200)
    assert first_pid not in left.body["members"]
    # an organiser may remove the captain; captaincy passes to the earliest remaining member
    removed = await org.api.delete(shop.base + f"/teams/{team['id']}/members/{captain_pid}", expect=200)
    assert removed.body["captain"] == removed.body["members"][0]


async def test_team_calls_need_a_valid_ticket_of_this_event(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    paid = await shop.ticket_type(price_minor=100)
    unpaid, _ = await holder(shop, new_client, paid["id"])
    assert (await unpaid.post(shop.base + "/teams", {"name": "X"}, expect=403)).code == "ticket_invalid"
    forged = await new_client()
    forged.headers["Authorization"] = "Ticket tkt_AAAAAAAAAAAAAAAA.bm90LWEtbWFj"
    assert (await forged.post(shop.base + "/teams", {"name": "X"}, expect=401)).code == "ticket_invalid"
    anonymous = await new_client()
    assert (await anonymous.get(shop.base + "/teams", expect=401)).code == "unauthenticated"


async def test_ticket_holder_gets_a_token_for_exactly_their_event_spaces_and_team(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop = await open_shop(org, new_client)
    stage = await org.api.post(
        shop.base + "/spaces", {"name": "Main", "kind": "stage", "capacity": 100}, expect=201
    )
    tt = await shop.ticket_type(role="speaker")
    api, ticket = await holder(shop, new_client, tt["id"])
    team = (await api.post(shop.base + "/teams", {"name": "Rocket"}, expect=201)).body
    other, _ = await holder(shop, new_client, tt["id"])
    other_team = (await other.post(shop.base + "/teams", {"name": "Comet"}, expect=201)).body

    issued = await api.post(shop.base + "/join-tokens", {"display_name": "Ada"}, expect=201)
    jwks_reply = await api.get("/.well-known/jwks.json", expect=200)
    assert jwks_reply.headers["Cache-Control"] == "public, max-age=60"
    assert issued.headers["Cache-Control"] == "no-store"
    jwks = jwks_reply.body
    now_s = int(time.time())
    claims = verify(issued.body["token"], jwks, now_s, event_id=shop.event_id)
    assert (claims.org_id, claims.event_id, claims.role, claims.name) == (
        org.id,
        shop.event_id,
        "speaker",
        "Ada",
    )
    assert claims.ticket_id == ticket["id"]
    assert claims.participant_id == issued.body["participant_id"] == await participant_of(shop, ticket)
    assert claims.teams == (team["id"],)
    assert set(claims.spaces) == {stage.body["id"], team["space_id"]}
    assert other_team["space_id"] not in claims.spaces
    assert claims.may_enter(team["space_id"], team["id"])
    assert not claims.may_enter(other_team["space_id"], other_team["id"])
    assert jwt.get_unverified_header(issued.body["token"])["kid"] == issued.body["kid"]
    try:
        verify(issued.body["token"], jwks, now_s, event_id="evt_0000000000000000")
    except TokenError as exc:
        assert exc.code == "token_wrong_event"
    else:
        raise AssertionError("a token of another event was accepted")
    assert not await is_revoked(redis_client, claims)

    await org.api.post(shop.base + f"/tickets/{ticket['id']}/revoke", expect=200)
    assert await is_revoked(redis_client, claims)
    assert (await api.post(shop.base + "/join-tokens", expect=403)).code == "ticket_invalid"


async def test_refund_revokes_the_tickets_tokens(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type(price_minor=100)
    api, ticket = await holder(shop, new_client, tt["id"])
    order_id = (await org.api.get(shop.base + f"/tickets/{ticket['id']}", expect=200)).body["order_id"]
    assert (await api.post(shop.base + "/join-tokens", expect=403)).code == "ticket_invalid"  # unpaid
    await org.api.post(shop.base + f"/orders/{order_id}/pay", expect=200)
    token = (await api.post(shop.base + "/join-tokens", expect=201)).body["token"]
    jwks = (await api.get("/.well-known/jwks.json", expect=200)).body
    claims = verify(token, jwks, int(time.time()))
    assert claims.role == "attendee" and claims.name == "Ada Lovelace"
    await org.api.post(shop.base + f"/orders/{order_id}/refund", expect=200)
    assert await is_revoked(redis_client, claims)
    assert (await api.post(shop.base + "/join-tokens", expect=403)).code == "ticket_invalid"


async def test_organiser_joins_every_space_and_loses_it_when_removed(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop = await open_shop(org, new_client)
    body = {"email": "mod@example.com", "name": "Moderator", "role": "organiser", "password": PASSWORD}
    member = (await org.api.post(f"/orgs/{org.id}/members", body, expect=201)).body
    api = await new_client()
    await sign_in(api, "mod@example.com")
    first = (await api.post(shop.base + "/join-tokens", expect=201)).body
    second = (await api.post(shop.base + "/join-tokens", expect=201)).body
    assert first["participant_id"] == second["participant_id"]  # stable per person and event
    claims = verify(first["token"], (await api.get("/.well-known/jwks.json")).body, int(time.time()))
    assert (claims.role, claims.spaces, claims.ticket_id, claims.name) == (
        "organiser",
        ("*",),
        None,
        "Moderator",
    )

    await org.api.delete(f"/orgs/{org.id}/members/{member['user_id']}", expect=204)
    assert await is_revoked(redis_client, claims)
    assert (await api.post(shop.base + "/join-tokens", expect=404)).code == "not_found"


async def test_staff_and_api_keys_cannot_take_organiser_tokens(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    await org.api.post(
        f"/orgs/{org.id}/members",
        {"email": "door@example.com", "name": "Door", "role": "staff", "password": PASSWORD},
        expect=201,
    )
    staff = await new_client()
    await sign_in(staff, "door@example.com")
    assert (await staff.post(shop.base + "/join-tokens", expect=403)).code == "forbidden"
    key = (
        await org.api.post(f"/orgs/{org.id}/api-keys", {"name": "k", "role": "organiser"}, expect=201)
    ).body
    script = await new_client()
    script.headers["Authorization"] = f"Bearer {key['secret']}"
    assert (await script.post(shop.base + "/join-tokens", expect=403)).code == "forbidden"


async def test_ended_event_issues_no_tokens(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type()
    api, _ = await holder(shop, new_client, tt["id"])
    await org.api.post(shop.base + "/start", expect=200)
    await api.post(shop.base + "/join-tokens", expect=201)
    await org.api.post(shop.base + "/end", expect=200)
    assert (await api.post(shop.base + "/join-tokens", expect=409)).code == "event_not_joinable"
    assert (await org.api.post(shop.base + "/join-tokens", expect=409)).code == "event_not_joinable"


async def test_ticket_of_one_tenant_is_worthless_in_another(
    org: Org, other_org: Org, new_client: ClientFactory
) -> None:
    shop = await open_shop(org, new_client)
    theirs = await open_shop(other_org, new_client)
    tt = await shop.ticket_type()
    api, _ = await holder(shop, new_client, tt["id"])
    assert (await api.post(theirs.base + "/join-tokens", expect=401)).code == "ticket_invalid"
    assert (await api.post(theirs.base + "/teams", {"name": "X"}, expect=401)).code == "ticket_invalid"
    # a ticket of another event of the same organisation is no ticket here either
    second = await open_shop(org, new_client)
    assert (await api.post(second.base + "/join-tokens", expect=401)).code == "ticket_invalid"
    assert (await other_org.api.post(shop.base + "/join-tokens", expect=404)).code == "not_found"


async def test_revocations_are_announced_for_live_sessions(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type()
    _, ticket = await holder(shop, new_client, tt["id"])
    pid = await participant_of(shop, ticket)
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(CHANNEL)
    try:
        assert (await pubsub.get_message(timeout=5.0))["type"] == "subscribe"
        await org.api.post(shop.base + f"/tickets/{ticket['id']}/revoke", expect=200)
        message = None
        for _ in range(50):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                break
        assert message is not None
        assert json.loads(message["data"]) == {
            "org": org.id,
            "tickets": [ticket["id"]],
            "participants": [pid],
        }
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_ticket_holders_read_their_event_spaces_and_agenda(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    stage = await org.api.post(
        shop.base + "/spaces", {"name": "Main", "kind": "stage", "capacity": 100}, expect=201
    )
    talk = {
        "title": "Keynote",
        "space_id": stage.body["id"],
        "starts_at": "2030-05-01T10:00:00+02:00",
        "ends_at": "2030-05-01T11:00:00+02:00",
    }
    await org.api.post(shop.base + "/agenda", talk, expect=201)
    api, _ = await holder(shop, new_client, (await shop.ticket_type())["id"])
    assert (await api.get(shop.base, expect=200)).body["id"] == shop.event_id
    assert [s["id"] for s in (await api.get(shop.base + "/spaces", expect=200)).body["items"]] == [
        stage.body["id"]
    ]
    assert (await api.get(shop.base + "/agenda", expect=200)).body["items"][0]["title"] == "Keynote"
    # but nothing an organiser manages
    assert (await api.get(shop.base + "/orders", expect=401)).code == "unauthenticated"
    assert (await api.patch(shop.base, {"title": "Mine"}, expect=401)).code == "unauthenticated"
    unpaid, _ = await holder(shop, new_client, (await shop.ticket_type(price_minor=5))["id"])
    assert (await unpaid.get(shop.base + "/agenda", expect=403)).code == "ticket_invalid"
    other = await open_shop(org, new_client)
    assert (await api.get(other.base, expect=401)).code == "ticket_invalid"
