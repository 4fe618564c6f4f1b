"""Redis is the system of record: data survives a restart (AOF); bootstrap seeds a demo org;
the API's metrics count what happened."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from control_api import bootstrap_org
from tests.control_api.conftest import CHEAP_HASHER, build_root, clients_of, make_org, sign_in
from tests.control_api.support import PASSWORD, Api
from tests.control_api.test_tickets import open_shop
from tests.support.redis_server import RedisServer


async def test_orders_and_quota_survive_a_redis_crash(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    redis = aioredis.Redis.from_url(server.url)
    try:
        async with clients_of(TestServer(build_root(redis), host="127.0.0.1")) as new_client:
            org = await make_org(new_client)
            shop = await open_shop(org, new_client)
            tt = await shop.ticket_type(quota=3)
            ticket = (await shop.order(tt["id"], 2, key="durable-key-0000001")).body["tickets"][0]

            server.stop(kill=True)  # SIGKILL: only what the AOF (appendfsync always) holds survives
            server.start()

            # pooled connections to the dead server fail once: 503 with Retry-After, never 500
            url = f"/api/v1{shop.base}/ticket-types"
            status = 503
            for _ in range(10):
                async with shop.public.client.get(url) as resp:
                    status = resp.status
                    if status != 503:
                        break
                    assert resp.content_type == "application/problem+json"
                    assert resp.headers["Retry-After"] == "1"
            assert status == 200
            again = await shop.order(tt["id"], 2, key="durable-key-0000001")
            assert again.body["tickets"][0] == ticket  # the idempotency record survived
            assert (await shop.order(tt["id"], 2)).code == "sold_out"  # so did the sold counter
            assert (await shop.order(tt["id"], 1)).status == 201
            view = await org.api.get(shop.base + f"/tickets/{ticket['id']}", expect=200)
            assert view.body["state"] == "valid"
            await org.api.get(f"/orgs/{org.id}", expect=200)  # and the session
    finally:
        await redis.aclose()
        server.stop()


async def test_bootstrap_org_seeds_an_owner_who_can_sign_in(redis_client: aioredis.Redis) -> None:
    org, owner = await bootstrap_org(
        redis_client, "Demo", "demo@example.com", PASSWORD, password_hasher=CHEAP_HASHER
    )
    again, same_owner = await bootstrap_org(
        redis_client, "Demo", "demo@example.com", PASSWORD, password_hasher=CHEAP_HASHER
    )
    assert (again["id"], same_owner) == (org["id"], owner)
    server = TestServer(build_root(redis_client), host="127.0.0.1")
    async with TestClient(server) as client:
        api = Api(client)
        assert await sign_in(api, "demo@example.com") == owner
        assert (await api.get(f"/orgs/{org['id']}", expect=200)).body["name"] == "Demo"


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_metrics_count_orders_sales_logins_and_tokens(redis_client: aioredis.Redis) -> None:
    series = {
        "created": ("venuekit_api_orders_created_total", {}),
        "refused": ("venuekit_api_orders_refused_total", {"code": "sold_out"}),
        "sold": ("venuekit_api_tickets_sold_total", {}),
        "failed": ("venuekit_api_logins_failed_total", {"reason": "invalid_credentials"}),
        "tokens": ("venuekit_api_tokens_issued_total", {"role": "organiser"}),
    }
    before = {key: _sample(name, labels) for key, (name, labels) in series.items()}
    async with clients_of(TestServer(build_root(redis_client), host="127.0.0.1")) as new_client:
        org = await make_org(new_client)
        shop = await open_shop(org, new_client)
        tt = await shop.ticket_type(quota=2)
        await shop.order(tt["id"], 2)
        await shop.order(tt["id"], 1)
        await org.api.post(shop.base + "/join-tokens", expect=201)
        await (await new_client()).post(
            "/sessions", {"email": org.email, "password": "wrong password"}, expect=401
        )
    after = {key: _sample(name, labels) for key, (name, labels) in series.items()}
    assert {key: after[key] - before[key] for key in series} == {
        "created": 1,
        "refused": 1,
        "sold": 2,
        "failed": 1,
        "tokens": 1,
    }
