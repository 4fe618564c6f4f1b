"""Unpaid orders give their tickets back at their pay-by time (sweeper owned by the app)."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from control_api.clock import parse_ms
from control_api.ticketing import PENDING_ORDER_TTL_S, TicketingStore
from tests.control_api.conftest import ClientFactory, Org, build_root, clients_of, make_org
from tests.control_api.test_tickets import open_shop


async def test_sweep_cancels_only_unpaid_orders_past_their_pay_by(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    shop = await open_shop(org, new_client)
    tt = await shop.ticket_type(price_minor=1000, quota=3)
    unpaid = (await shop.order(tt["id"], 2)).body["order"]
    paid = (await shop.order(tt["id"], 1)).body["order"]
    await org.api.post(shop.base + f"/orders/{paid['id']}/pay", expect=200)
    pay_by_ms = parse_ms(unpaid["pay_by"])
    assert pay_by_ms - parse_ms(unpaid["created_at"]) == PENDING_ORDER_TTL_S * 1000

    store = TicketingStore(redis_client)
    assert await store.expire_pending(pay_by_ms - 1) == 0
    assert await store.expire_pending(pay_by_ms + 1) == 1
    assert await store.expire_pending(pay_by_ms + 2) == 0

    got = await org.api.get(shop.base + f"/orders/{unpaid['id']}", expect=200)
    assert (got.body["state"], got.body["pay_by"]) == ("cancelled", None)
    assert (await org.api.get(shop.base + f"/orders/{paid['id']}", expect=200)).body["state"] == "paid"
    ticket = await org.api.get(shop.base + f"/tickets/{unpaid['ticket_ids'][0]}", expect=200)
    assert ticket.body["state"] == "cancelled"
    assert (await shop.order(tt["id"], 2)).status == 201  # the quota came back


async def test_the_apps_own_sweeper_expires_orders(redis_client: aioredis.Redis) -> None:
    root = build_root(redis_client, pending_order_ttl_s=0, sweep_interval_s=0.05)
    async with clients_of(TestServer(root, host="127.0.0.1")) as new_client:
        org = await make_org(new_client)
        shop = await open_shop(org, new_client)
        tt = await shop.ticket_type(price_minor=500)
        order = (await shop.order(tt["id"])).body["order"]
        deadline = time.monotonic() + 30
        state = order["state"]
        while state == "pending" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            state = (await org.api.get(shop.base + f"/orders/{order['id']}", expect=200)).body["state"]
        assert state == "cancelled"
