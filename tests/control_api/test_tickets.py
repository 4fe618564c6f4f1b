"""Ticket types, orders (idempotency, quota under concurrency), invites, tickets and check-ins."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from control_api.ids import OrgId, new_id
from control_api.problems import ApiError
from control_api.ticketing import OrderRecord, TicketingStore
from tests.control_api.conftest import ClientFactory, Org, build_root, clients_of, make_org
from tests.control_api.support import Api
from tests.control_api.test_venue import create_event

TICKET_TYPE = {
    "name": "General",
    "price_minor": 0,
    "currency": "EUR",
    "quota": 100,
    "sales_start": "2020-01-01T00:00:00Z",
    "sales_end": "2099-01-01T00:00:00Z",
    "per_order_max": 4,
}


@dataclass
class Shop:
    org: Org
    event_id: str
    base: str
    public: Api

    async def ticket_type(self, **changes: Any) -> dict[str, Any]:
        reply = await self.org.api.post(self.base + "/ticket-types", {**TICKET_TYPE, **changes}, expect=201)
        return dict(reply.body)

    async def order(self, type_id: str, quantity: int = 1, *, key: str | None = None, **extra: Any) -> Any:
        body = {
            "ticket_type_id": type_id,
            "quantity": quantity,
            "buyer": {"name": "Ada Lovelace", "email": "ada@example.com"},
            **extra,
        }
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        return await self.public.post(self.base + "/orders", body, headers=headers)


async def open_shop(org: Org, new_client: ClientFactory) -> Shop:
    event = await create_event(org)
    base = f"/orgs/{org.id}/events/{event['id']}"
    await org.api.post(base + "/publish", expect=200)
    return Shop(org, event["id"], base, await new_client())


async def test_free_order_is_paid_at_once_and_its_tickets_are_valid(
    org: Org, new_client: ClientFactory
) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type()
    reply = await shop.order(tt["id"], 2)
    assert reply.status == 201, reply
    order = reply.body["order"]
    assert (order["state"], order["total_minor"], order["quantity"]) == ("paid", 0, 2)
    assert len(reply.body["tickets"]) == 2
    ticket = await org.api.get(shop.base + f"/tickets/{reply.body['tickets'][0]['id']}", expect=200)
    assert ticket.body["state"] == "valid"
    types = await shop.public.get(shop.base + "/ticket-types", expect=200)
    assert types.body["items"][0]["sold"] == 2


async def test_paid_order_lifecycle_frees_quota_on_refund(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type(price_minor=2500, quota=3)
    order = (await shop.order(tt["id"], 3)).body["order"]
    assert (order["state"], order["total_minor"], order["currency"]) == ("pending", 7500, "EUR")
    assert (await shop.order(tt["id"], 1)).code == "sold_out"
    path = shop.base + f"/orders/{order['id']}"
    assert (await org.api.post(path + "/refund", expect=409)).code == "invalid_transition"
    assert (await org.api.post(path + "/pay", expect=200)).body["state"] == "paid"
    assert (await org.api.post(path + "/pay", expect=409)).code == "invalid_transition"
    assert (await org.api.post(path + "/refund", expect=200)).body["state"] == "refunded"
    assert (await org.api.post(path + "/cancel", expect=409)).code == "invalid_transition"
    listed = await org.api.get(shop.base + "/orders", expect=200)
    assert listed.body["items"][0]["buyer"] == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert (await shop.order(tt["id"], 3)).status == 201  # the refund gave the quota back


async def test_anonymous_cannot_mark_orders_paid(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type(price_minor=100)
    order = (await shop.order(tt["id"])).body["order"]
    reply = await shop.public.post(shop.base + f"/orders/{order['id']}/pay", expect=401)
    assert reply.code == "unauthenticated"


async def test_retried_order_returns_the_same_order(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type()
    first = await shop.order(tt["id"], 2, key="retry-key-0000000001")
    again = await shop.order(tt["id"], 2, key="retry-key-0000000001")
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = await shop.order(tt["id"], 3, key="retry-key-0000000001")
    assert (other.status, other.code) == (422, "idempotency_key_reused")
    types = await shop.public.get(shop.base + "/ticket-types", expect=200)
    assert types.body["items"][0]["sold"] == 2


async def test_concurrent_retries_with_one_key_create_one_order(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type()
    replies = await asyncio.gather(*(shop.order(tt["id"], 1, key="same-key-0000000123") for _ in range(50)))
    assert {r.status for r in replies} == {201}
    assert len({r.body["order"]["id"] for r in replies}) == 1
    assert (await org.api.get(shop.base + "/orders", expect=200)).body["items"][0]["quantity"] == 1


async def test_idempotency_key_is_required_and_checked(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type()
    body = {"ticket_type_id": tt["id"], "quantity": 1, "buyer": {"name": "A", "email": "a@example.com"}}
    reply = await shop.public.post(shop.base + "/orders", body, expect=400)
    assert reply.code == "idempotency_key_missing"
    for bad in ("short-key-123", "x" * 65, "has space in it", "semi;colon;;"):
        reply = await shop.public.post(
            shop.base + "/orders", body, headers={"Idempotency-Key": bad}, expect=400
        )
        assert reply.code == "idempotency_key_invalid"
    assert (await org.api.get(shop.base + "/orders", expect=200)).body["items"] == []


async def test_thousand_concurrent_orders_never_oversell(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type(quota=100, per_order_max=1)
    clients = [await new_client() for _ in range(4)]

    async def one(i: int) -> int:
        body = {
            "ticket_type_id": tt["id"],
            "quantity": 1,
            "buyer": {"name": f"B{i}", "email": f"b{i}@example.com"},
        }
        reply = await clients[i % 4].post(
            shop.base + "/orders", body, headers={"Idempotency-Key": f"order-{i:012d}"}
        )
        assert reply.status in (201, 409), reply
        assert reply.status == 201 or reply.code == "sold_out"
        return reply.status

    statuses = await asyncio.gather(*(one(i) for i in range(1000)))
    assert statuses.count(201) == 100
    assert statuses.count(409) == 900
    types = await shop.public.get(shop.base + "/ticket-types", expect=200)
    assert (types.body["items"][0]["sold"], types.body["items"][0]["quota"]) == (100, 100)
    ticket_keys = [k async for k in redis_client.scan_iter(match=f"vk:{{org:{org.id}}}:ticket:*")]
    assert len(ticket_keys) == 100
    orders = await org.api.get(shop.base + "/orders", expect=200)
    assert len(orders.body["items"]) == 100


async def test_sales_window_event_state_and_order_limit(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    closed = await shop.ticket_type(sales_start="2020-01-01T00:00:00Z", sales_end="2021-01-01T00:00:00Z")
    assert (await shop.order(closed["id"])).code == "sales_closed"
    future = await shop.ticket_type(sales_start="2098-01-01T00:00:00Z")
    assert (await shop.order(future["id"])).code == "sales_closed"
    tt = await shop.ticket_type(per_order_max=2)
    reply = await shop.order(tt["id"], 3)
    assert (reply.status, reply.code) == (422, "order_limit_exceeded")
    bad_window = await org.api.post(
        shop.base + "/ticket-types", {**TICKET_TYPE, "sales_end": "2019-01-01T00:00:00Z"}, expect=422
    )
    assert bad_window.code == "invalid_time_range"

    draft = await create_event(org)
    draft_base = f"/orgs/{org.id}/events/{draft['id']}"
    draft_tt = (await org.api.post(draft_base + "/ticket-types", TICKET_TYPE, expect=201)).body
    body = {"ticket_type_id": draft_tt["id"], "quantity": 1, "buyer": {"name": "A", "email": "a@example.com"}}
    reply = await shop.public.post(
        draft_base + "/orders", body, headers={"Idempotency-Key": "draft-order-0000001"}
    )
    assert (reply.status, reply.code) == (409, "event_not_on_sale")
    assert (await shop.public.get(draft_base + "/ticket-types", expect=401)).code == "unauthenticated"


async def test_invite_codes_unlock_invite_only_types(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    vip = await shop.ticket_type(name="VIP", invite_only=True)
    general = await shop.ticket_type()
    assert (await shop.order(vip["id"])).code == "invite_required"
    assert (await shop.order(vip["id"], invite_code="not-a-code")).code == "invite_invalid"
    invite = await org.api.post(
        shop.base + "/invites", {"ticket_type_id": vip["id"], "max_uses": 2}, expect=201
    )
    code = invite.body["code"]
    assert (await shop.order(general["id"], invite_code=code)).code == "invite_invalid"  # other type
    assert (await shop.order(vip["id"], 2, invite_code=code)).status == 201
    assert (await shop.order(vip["id"], 1, invite_code=code)).code == "invite_exhausted"


async def test_quota_cannot_drop_below_sold(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type(quota=5)
    await shop.order(tt["id"], 3)
    path = shop.base + f"/ticket-types/{tt['id']}"
    assert (await org.api.patch(path, {"quota": 2}, expect=409)).code == "quota_below_sold"
    assert (await org.api.patch(path, {"quota": 3, "name": "Early"}, expect=200)).body["quota"] == 3
    assert (await shop.order(tt["id"])).code == "sold_out"


async def test_check_in_once_and_only_valid_tickets(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    free = await shop.ticket_type()
    paid = await shop.ticket_type(price_minor=900)
    ticket = (await shop.order(free["id"])).body["tickets"][0]
    done = await org.api.post(shop.base + "/check-ins", {"ticket_code": ticket["code"]}, expect=201)
    assert done.body["ticket_id"] == ticket["id"]
    again = await org.api.post(shop.base + "/check-ins", {"ticket_code": ticket["code"]}, expect=409)
    assert again.code == "already_checked_in"
    viewed = await org.api.get(shop.base + f"/tickets/{ticket['id']}", expect=200)
    assert viewed.body["checked_in_at"] == done.body["checked_in_at"]
    listed = await org.api.get(shop.base + "/check-ins", expect=200)
    assert listed.body["items"] == [done.body]

    unpaid = (await shop.order(paid["id"])).body["tickets"][0]
    refused = await org.api.post(shop.base + "/check-ins", {"ticket_code": unpaid["code"]}, expect=409)
    assert refused.code == "ticket_invalid"
    forged = ticket["code"][:-2] + ("AA" if not ticket["code"].endswith("AA") else "BB")
    assert (
        await org.api.post(shop.base + "/check-ins", {"ticket_code": forged}, expect=422)
    ).code == "ticket_invalid"

    other = (await shop.order(free["id"])).body["tickets"][0]
    revoked = await org.api.post(shop.base + f"/tickets/{other['id']}/revoke", expect=200)
    assert revoked.body["state"] == "revoked"
    refused = await org.api.post(shop.base + "/check-ins", {"ticket_code": other["code"]}, expect=409)
    assert refused.code == "ticket_invalid"


async def test_tenants_never_see_each_others_orders_and_tickets(
    org: Org, other_org: Org, new_client: ClientFactory
) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type(price_minor=500)
    reply = await shop.order(tt["id"])
    order, ticket = reply.body["order"], reply.body["tickets"][0]
    theirs = await open_shop(other_org, new_client)
    for org_id, event_id in ((org.id, shop.event_id), (other_org.id, theirs.event_id)):
        base = f"/orgs/{org_id}/events/{event_id}"
        attempts: list[tuple[str, str, Any]] = [
            ("GET", base + "/orders", None),
            ("GET", base + f"/orders/{order['id']}", None),
            ("POST", base + f"/orders/{order['id']}/pay", None),
            ("POST", base + f"/orders/{order['id']}/cancel", None),
            ("GET", base + f"/tickets/{ticket['id']}", None),
            ("POST", base + f"/tickets/{ticket['id']}/revoke", None),
            ("PATCH", base + f"/ticket-types/{tt['id']}", {"quota": 0}),
            ("POST", base + "/invites", {"ticket_type_id": tt["id"], "max_uses": 5}),
            ("GET", base + "/check-ins", None),
        ]
        for method, path, body in attempts:
            got = await other_org.api.call(method, path, body)
            if org_id == other_org.id and path in (base + "/orders", base + "/check-ins"):
                assert got.status == 200 and got.body["items"] == []
                continue
            assert (got.status, got.code) == (404, "not_found"), (method, path, got)
    # their staff cannot check our ticket in at their event, nor order our ticket type there
    got = await other_org.api.post(theirs.base + "/check-ins", {"ticket_code": ticket["code"]}, expect=422)
    assert got.code == "ticket_invalid"
    body = {"ticket_type_id": tt["id"], "quantity": 1, "buyer": {"name": "A", "email": "a@example.com"}}
    got = await theirs.public.post(
        theirs.base + "/orders", body, headers={"Idempotency-Key": "cross-tenant-000001"}
    )
    assert (got.status, got.code) == (404, "not_found")
    still = await org.api.get(shop.base + f"/orders/{order['id']}", expect=200)
    assert still.body["state"] == "pending"


async def test_order_script_itself_refuses_an_unknown_invite(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    """The HTTP layer checks invites first; the script must hold even if one vanished meanwhile."""
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type(invite_only=True)
    order: OrderRecord = {
        "id": new_id("ord"),
        "event_id": shop.event_id,
        "ticket_type_id": tt["id"],
        "quantity": 1,
        "state": "paid",
        "total_minor": 0,
        "currency": "EUR",
        "created_at": "2030-01-01T00:00:00.000Z",
        "ticket_ids": [],
        "pay_by": None,
    }
    with pytest.raises(ApiError) as err:
        await TicketingStore(redis_client).place_order(
            OrgId(org.id),
            idempotency_key="direct-call-000001",
            fingerprint="f",
            order=order,
            tickets=[],
            buyer_name="A",
            buyer_email="a@example.com",
            invite_code="vanished-code",
            created_ms=0,
            pay_by_ms=None,
        )
    assert err.value.code == "invite_invalid"
    assert (await shop.public.get(shop.base + "/ticket-types", expect=200)).body["items"][0]["sold"] == 0


async def test_event_capacity_bounds_all_ticket_types_together(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    await org.api.patch(shop.base, {"capacity": 3}, expect=200)
    a = await shop.ticket_type(name="A", quota=5, price_minor=100)
    b = await shop.ticket_type(name="B", quota=5)
    first = (await shop.order(a["id"], 2)).body["order"]
    reply = await shop.order(b["id"], 2)
    assert (reply.status, reply.code) == (409, "event_full")
    assert (await shop.order(b["id"], 1)).status == 201
    assert (await org.api.patch(shop.base, {"capacity": 2}, expect=409)).code == "capacity_below_sold"
    assert (await org.api.get(shop.base, expect=200)).body["capacity"] == 3
    await org.api.post(shop.base + f"/orders/{first['id']}/cancel", expect=200)
    assert (await shop.order(b["id"], 2)).status == 201  # the cancel freed two places
    await org.api.patch(shop.base, {"capacity": 4}, expect=200)
    assert (await shop.order(a["id"], 1)).status == 201
    assert (await shop.order(a["id"], 1)).code == "event_full"


async def test_concurrent_orders_of_several_types_never_exceed_capacity(
    org: Org, new_client: ClientFactory
) -> None:
    shop = await open_shop(org, new_client)
    await org.api.patch(shop.base, {"capacity": 50}, expect=200)
    types = [await shop.ticket_type(name=f"T{i}", quota=100) for i in range(3)]
    replies = await asyncio.gather(*(shop.order(types[i % 3]["id"], 1 + i % 2) for i in range(200)))
    sold = sum(r.body["order"]["quantity"] for r in replies if r.status == 201)
    assert {r.code for r in replies if r.status != 201} <= {"event_full"}
    assert 49 <= sold <= 50  # the last order may need two places when one is left
    listed = await org.api.get(shop.base + "/orders", expect=200)
    assert sum(o["quantity"] for o in listed.body["items"]) == sold


async def test_an_instance_never_sells_from_an_outdated_copy_of_the_event_or_ticket_type(
    org: Org, redis_client: aioredis.Redis
) -> None:
    """Each process keeps the event and ticket type it last checked a sale against; the order
    script writes only if they are still stored so. A second API instance (its own copy) sees
    every change made through the first at once: closed windows, new limits, ended events, and
    (the other way) a window opened again after it had cached the closed one."""
    shop_server = org.api.client.server
    other = TestServer(build_root(redis_client), host="127.0.0.1")
    await other.start_server()
    try:
        async with clients_of(other) as other_client:
            event = await create_event(org)
            base = f"/orgs/{org.id}/events/{event['id']}"
            await org.api.post(base + "/publish", expect=200)
            shop = Shop(org, event["id"], base, await other_client())
            assert shop.public.client.server is not shop_server
            tt = await shop.ticket_type(per_order_max=3)
            assert (await shop.order(tt["id"], 3)).status == 201  # the other instance caches it
            past = {"sales_start": "2020-01-01T00:00:00Z", "sales_end": "2021-01-01T00:00:00Z"}
            await org.api.patch(base + f"/ticket-types/{tt['id']}", past, expect=200)
            assert (await shop.order(tt["id"])).code == "sales_closed"
            reopen = {"sales_start": "2020-01-01T00:00:00Z", "sales_end": "2099-01-01T00:00:00Z"}
            await org.api.patch(
                base + f"/ticket-types/{tt['id']}", {**reopen, "per_order_max": 1}, expect=200
            )
            assert (await shop.order(tt["id"], 2)).code == "order_limit_exceeded"
            assert (await shop.order(tt["id"], 1)).status == 201
            await org.api.post(base + "/start", expect=200)
            await org.api.post(base + "/end", expect=200)
            assert (await shop.order(tt["id"], 1)).code == "event_not_on_sale"
            types = await org.api.get(base + "/ticket-types", expect=200)
            assert types.body["items"][0]["sold"] == 4
    finally:
        await other.close()


async def test_a_retry_replays_even_after_the_sale_closed(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type()
    first = await shop.order(tt["id"], key="retry-after-close-01")
    past = {"sales_start": "2020-01-01T00:00:00Z", "sales_end": "2021-01-01T00:00:00Z"}
    await org.api.patch(shop.base + f"/ticket-types/{tt['id']}", past, expect=200)
    again = await shop.order(tt["id"], key="retry-after-close-01")
    assert again.status == 201, again
    assert again.body["order"]["id"] == first.body["order"]["id"]
    assert (await shop.order(tt["id"])).code == "sales_closed"


class CountingConnection(aioredis.Connection):
    """Records the name of every command the API sends (a pipeline would bypass this; the order
    path uses none)."""

    sent: ClassVar[list[str]] = []

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        CountingConnection.sent.append(str(args[0]).upper())
        await super().send_command(*args, **kwargs)


async def test_an_order_costs_one_redis_call_when_refused_and_two_when_made(redis_url: str) -> None:
    """The hot path's shape (docs/control-api-design.md, "The order path"): with the event and
    ticket type known to the process, one order script call, plus the buyer index for a new
    order."""
    pool = aioredis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    counted = aioredis.Redis(connection_pool=pool)
    await counted.flushall()
    srv = TestServer(build_root(counted), host="127.0.0.1")
    await srv.start_server()
    try:
        async with clients_of(srv) as make:
            shop = await open_shop(await make_org(make), make)
            tt = await shop.ticket_type(quota=2)
            assert (await shop.order(tt["id"])).status == 201  # the process reads and keeps the sale
            CountingConnection.sent.clear()
            assert (await shop.order(tt["id"])).status == 201
            assert sorted(CountingConnection.sent) == ["EVALSHA", "SADD"]
            CountingConnection.sent.clear()
            assert (await shop.order(tt["id"])).code == "sold_out"
            assert CountingConnection.sent == ["EVALSHA"]
    finally:
        await srv.close()
        await counted.aclose()
        await pool.aclose()
