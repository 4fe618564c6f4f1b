"""GDPR over real HTTP and a real Redis: consent, the access export, erasure everywhere (checked
by scanning every key of every type), billing figures unchanged, authorisation, the audit log."""

from __future__ import annotations

import json
from typing import Any

import jwt
import redis.asyncio as aioredis

from analytics.log import derive, read_log, stream_key
from analytics.store import AnalyticsStore
from control_api.revocation import CHANNEL
from tests.control_api.conftest import ClientFactory, Org, sign_in
from tests.control_api.support import PASSWORD, Api
from tests.control_api.test_tickets import Shop, open_shop
from tests.privacy.support import CONSENT, Person, buy_and_join, live_traffic, traces

ZELDA = ("Zelda Quintessa", "Zelda.Quintessa@example.org")
BOB = ("Bob Brightwater", "bob.brightwater@example.org")


async def _event_with_people(
    org: Org, new_client: ClientFactory, redis: aioredis.Redis
) -> tuple[Shop, Person, Person, str]:
    shop = await open_shop(org, new_client)
    ticket_type = await shop.ticket_type()
    public = await new_client()
    zelda = await buy_and_join(shop, ticket_type["id"], public, *ZELDA)
    bob = await buy_and_join(shop, ticket_type["id"], public, *BOB, consent=None)
    captain = await new_client()
    captain.headers["Authorization"] = f"Ticket {zelda.ticket['code']}"
    team = await captain.post(shop.base + "/teams", {"name": "Rocket"}, expect=201)
    spaces = await org.api.post(shop.base + "/spaces", {"name": "Hall", "kind": "room", "capacity": 50})
    await live_traffic(redis, shop.event_id, team.body["id"], zelda, bob, spaces.body["id"])
    # the analytics worker's live fold, persisted in Redis like the worker does it
    await AnalyticsStore(redis).apply(shop.event_id, [e async for e in read_log(redis, shop.event_id)], 0)
    return shop, zelda, bob, team.body["id"]


async def _zelda_account(org: Org, new_client: ClientFactory) -> Api:
    """Zelda also has an account: a member (attendee) of the organisation, signed in."""
    name, email = ZELDA
    await org.api.post(
        f"/orgs/{org.id}/members",
        {"email": email, "name": name, "role": "attendee", "password": PASSWORD},
        expect=201,
    )
    api = await new_client()
    await sign_in(api, email)
    return api


def _only(sections: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(sections) == 1, sections
    return sections[0]


async def test_consent_is_recorded_with_version_and_time_and_rides_the_token(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop = await open_shop(org, new_client)
    ticket_type = await shop.ticket_type()
    public = await new_client()
    declined = await buy_and_join(shop, ticket_type["id"], public, "Dee Clined", "dee@example.org")
    agreed = await buy_and_join(
        shop, ticket_type["id"], public, "Al Yes", "al@example.org", consent={**CONSENT, "analytics": True}
    )
    silent = await buy_and_join(shop, ticket_type["id"], public, "Si Lent", "si@example.org", consent=None)
    assert (declined.token_claims["anl"], agreed.token_claims["anl"], silent.token_claims["anl"]) == (
        False,
        True,
        True,
    )
    # a later exchange without a consent object keeps the participant's latest answer
    again = await public.post(
        shop.base + "/join-tokens",
        {},
        headers={"Authorization": f"Ticket {declined.ticket['code']}"},
        expect=201,
    )
    assert again.body["participant_id"] == declined.participant_id
    assert jwt.decode(again.body["token"], options={"verify_signature": False})["anl"] is False
    # refusing the terms refuses the join and stores nothing
    before = await redis_client.dbsize()
    refused = await public.post(
        shop.base + "/join-tokens",
        {"consent": {**CONSENT, "terms": False}},
        headers={"Authorization": f"Ticket {agreed.ticket['code']}"},
    )
    assert (refused.status, refused.code) == (422, "terms_not_accepted")
    assert await redis_client.dbsize() == before
    export = await org.api.post(f"/orgs/{org.id}/privacy/exports", {"email": "dee@example.org"}, expect=200)
    consents = _only(export.body["organisations"])["consents"]
    assert len(consents) == 1
    record = consents[0]
    assert {k: record[k] for k in ("version", "terms", "recording", "analytics")} == CONSENT
    assert record["participant_id"] == declined.participant_id and record["at"].endswith("Z")


async def test_declined_analytics_is_stamped_profiling_0(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop, zelda, bob, _ = await _event_with_people(org, new_client, redis_client)
    entries = await redis_client.xrange(stream_key(shop.event_id))
    by_person: dict[str, set[bytes | None]] = {}
    for _, fields in entries:
        by_person.setdefault(fields[b"participant"].decode(), set()).add(fields.get(b"profiling"))
    assert by_person == {zelda.participant_id: {b"0"}, bob.participant_id: {None}}


async def test_export_holds_everything_and_erasure_leaves_no_trace_but_the_same_totals(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop, zelda, _bob, team_id = await _event_with_people(org, new_client, redis_client)
    me = await _zelda_account(org, new_client)

    export = (await me.get("/me/data", expect=200)).body
    assert export["profile"]["email"] == ZELDA[1] and export["profile"]["name"] == ZELDA[0]
    section = _only(export["organisations"])
    assert section["membership"] == "attendee"
    assert [o["buyer"] for o in section["orders"]] == [{"name": ZELDA[0], "email": ZELDA[1]}]
    assert [(t["id"], t["state"]) for t in section["tickets"]] == [(zelda.ticket["id"], "valid")]
    assert section["participants"] == [
        {"participant_id": zelda.participant_id, "event_id": shop.event_id, "team_id": team_id}
    ]
    assert [c["version"] for c in section["consents"]] == [CONSENT["version"]]
    chat = {(m["channel"].split(":")[0], m["text"]) for m in section["chat_messages"]}
    assert chat == {("event", "hello from Zelda"), ("team", "team plans"), ("dm", "psst")}
    [attendance] = section["attendance"]
    assert attendance["participant_id"] == zelda.participant_id and attendance["minutes"] == 10.0
    assert [e["kind"] for e in attendance["events"]] == ["arrive", "join", "depart"]
    assert [c["display_name"] for c in section["venue_connections"]] == [ZELDA[0]]

    by_owner = await org.api.post(f"/orgs/{org.id}/privacy/exports", {"email": ZELDA[1]}, expect=200)
    assert _only(by_owner.body["organisations"])["chat_messages"] == section["chat_messages"]

    before = await derive(redis_client, shop.event_id)
    assert before.unique_participants == 2
    live_before = await AnalyticsStore(redis_client).counters(shop.event_id)
    assert any(zelda.participant_id.encode() in k for k in await redis_client.keys("vk:an:*"))
    sold = (await org.api.get(shop.base + "/ticket-types", expect=200)).body["items"][0]["sold"]
    erased = await me.post("/me/erasure", {"confirm": True}, expect=200)
    assert (erased.body["orders_anonymised"], erased.body["participants_erased"]) == (1, 1)

    hits = await traces(redis_client, [ZELDA[0], ZELDA[1], zelda.participant_id, "Zelda"])
    assert hits == [], hits
    after = await derive(redis_client, shop.event_id)
    assert (after.unique_participants, after.participant_ms, after.sessions) == (
        before.unique_participants,
        before.participant_ms,
        before.sessions,
    )
    assert sorted(after.per_participant_ms.values()) == sorted(before.per_participant_ms.values())
    assert await AnalyticsStore(redis_client).counters(shop.event_id) == live_before
    # financial records stay: the order with its amount and state, the places sold
    order_id = section["orders"][0]["id"]
    order = (await org.api.get(shop.base + f"/orders/{order_id}", expect=200)).body
    assert (order["state"], order["total_minor"], order["currency"]) == (
        "paid",
        0,
        section["orders"][0]["currency"],
    )
    assert "buyer" not in order
    assert (await org.api.get(shop.base + "/ticket-types", expect=200)).body["items"][0]["sold"] == sold
    # the ticket is dead, the account gone, the session ended
    dead = await me.post(
        shop.base + "/join-tokens", {}, headers={"Authorization": f"Ticket {zelda.ticket['code']}"}
    )
    assert (dead.status, dead.code) == (403, "ticket_invalid")
    assert (await me.get("/me")).status == 401
    # the other participant's data stays
    bob_export = await org.api.post(f"/orgs/{org.id}/privacy/exports", {"email": BOB[1]}, expect=200)
    bob_chat = [m["text"] for m in _only(bob_export.body["organisations"])["chat_messages"]]
    assert bob_chat == ["hello from Bob"]
    gone = await org.api.post(f"/orgs/{org.id}/privacy/exports", {"email": ZELDA[1]})
    assert (gone.status, gone.code) == (404, "subject_not_found")

    audit = (await org.api.get(f"/orgs/{org.id}/privacy/audit", expect=200)).body["items"]
    assert (audit[0]["action"], audit[0]["actor"]["kind"]) == ("export", "member")  # Bob's, just now
    assert audit[0]["subject"] != audit[1]["subject"]
    audit = audit[1:]
    assert [(e["action"], e["actor"]["kind"]) for e in audit[:3]] == [
        ("erase", "subject"),
        ("export", "member"),
        ("export", "subject"),
    ]
    assert audit[0]["subject"] == audit[1]["subject"] == audit[2]["subject"]
    assert audit[0]["actor"]["id"] is None and audit[1]["actor"]["id"] == org.owner_id
    assert audit[0]["detail"]["participants_erased"] == 1


async def test_an_owner_erases_a_buyer_of_their_org_and_no_one_else(
    org: Org, other_org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop, zelda, bob, _ = await _event_with_people(org, new_client, redis_client)
    # another organisation cannot see or touch this org's people
    for path in ("exports", "erasures"):
        foreign = await other_org.api.post(f"/orgs/{org.id}/privacy/{path}", {"email": ZELDA[1]})
        assert (foreign.status, foreign.code) == (404, "not_found")
        own = await other_org.api.post(f"/orgs/{other_org.id}/privacy/{path}", {"email": ZELDA[1]})
        assert (own.status, own.code) == (404, "subject_not_found")
    # a member without the owner's permission cannot, a person cannot reach another person
    me = await _zelda_account(org, new_client)
    refused = await me.post(f"/orgs/{org.id}/privacy/exports", {"email": BOB[1]})
    assert (refused.status, refused.code) == (403, "forbidden")
    refused = await me.post(f"/orgs/{org.id}/privacy/erasures", {"email": BOB[1]})
    assert (refused.status, refused.code) == (403, "forbidden")
    mine = (await me.get("/me/data", expect=200)).body
    assert BOB[1] not in str(mine) and bob.participant_id not in str(mine)
    anonymous = await (await new_client()).get("/me/data")
    assert anonymous.status == 401
    # owners cannot be erased through the org route
    owner = await org.api.post(f"/orgs/{org.id}/privacy/erasures", {"email": org.email})
    assert (owner.status, owner.code) == (409, "subject_is_owner")

    before = await derive(redis_client, shop.event_id)
    listener = redis_client.pubsub()
    await listener.subscribe(CHANNEL)
    await listener.get_message(timeout=1.0)  # the subscription confirmation
    done = await org.api.post(f"/orgs/{org.id}/privacy/erasures", {"email": BOB[1]}, expect=200)
    assert done.body["tickets_revoked"] == 1
    # live sessions end at once, and signalling learns the anonymous id to log what follows
    announced = await listener.get_message(timeout=2.0)
    await listener.aclose()
    assert announced is not None
    message = json.loads(announced["data"])
    assert message["participants"] == [bob.participant_id]
    assert message["tickets"] == [bob.ticket["id"]]
    assert list(message["erased"]) == [bob.participant_id]
    assert message["erased"][bob.participant_id].startswith("anon_")
    assert await traces(redis_client, [BOB[0], BOB[1], bob.participant_id]) == []
    after = await derive(redis_client, shop.event_id)
    assert (after.unique_participants, after.participant_ms) == (
        before.unique_participants,
        before.participant_ms,
    )
    # erasing again finds nothing; Zelda's data is untouched
    again = await org.api.post(f"/orgs/{org.id}/privacy/erasures", {"email": BOB[1]})
    assert (again.status, again.code) == (404, "subject_not_found")
    zelda_chat = _only((await me.get("/me/data", expect=200)).body["organisations"])["chat_messages"]
    assert len(zelda_chat) == 2  # the direct channel with Bob went with him (docs/privacy.md)
    assert zelda.participant_id in str(await redis_client.xrange(stream_key(shop.event_id)))
    audit = (await org.api.get(f"/orgs/{org.id}/privacy/audit", expect=200)).body["items"]
    [erasure] = [e for e in audit if e["action"] == "erase"]
    assert erasure["actor"] == {"kind": "member", "id": org.owner_id}
    assert [e["actor"]["kind"] for e in audit if e["action"] == "export"] == ["subject", "subject"]
    assert BOB[1] not in str(audit)
    staff_view = await me.get(f"/orgs/{org.id}/privacy/audit")
    assert staff_view.status == 403
