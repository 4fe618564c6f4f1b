"""Bad input never stores anything and never answers 5xx: fixed cases plus a hypothesis fuzz."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.control_api.conftest import ClientFactory, Org
from tests.control_api.test_tickets import TICKET_TYPE, Shop, open_shop
from tests.control_api.test_venue import EVENT


async def snapshot(redis: aioredis.Redis) -> str:
    """A digest of every key and value (login-failure counters excluded)."""
    digest = hashlib.sha256()
    keys = sorted([k async for k in redis.scan_iter() if b"login-fail" not in k])
    for key in keys:
        digest.update(key)
        digest.update(await redis.dump(key) or b"")
    return digest.hexdigest()


async def test_malformed_json_wrong_media_type_and_huge_bodies(
    org: Org, redis_client: aioredis.Redis
) -> None:
    path = f"/orgs/{org.id}/events"
    json_header = {"Content-Type": "application/json"}
    before = await snapshot(redis_client)
    for raw in (b"{", b"{'a': 1}", b"[1,", b"\xff\xfe", b"NaN", b'{"title": "x"'):
        reply = await org.api.post(path, data=raw, headers=json_header, expect=400)
        assert reply.code == "malformed_json", raw
    reply = await org.api.post(path, data=b"title=x", headers={"Content-Type": "text/plain"}, expect=415)
    assert reply.code == "unsupported_media_type"
    huge = b'{"title": "' + b"x" * 200_000 + b'"}'
    assert (await org.api.post(path, data=huge, headers=json_header, expect=413)).code == "body_too_large"

    async def chunked(
        body: bytes,
    ) -> AsyncIterator[bytes]:  # no Content-Length: only the streamed size can refuse it
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]
            await asyncio.sleep(0.001)  # let the server read before the rest has arrived

    resp = await org.api.client.post(
        "/api/v1" + path, data=chunked(huge), headers={**org.api.headers, **json_header}
    )
    assert (resp.status, (await resp.json())["code"]) == (413, "body_too_large")
    # a body just under the limit, arriving in many pieces, is read whole (422, not 400)
    big = orjson.dumps({**EVENT, "description": "d" * 60_000})
    resp = await org.api.client.post(
        "/api/v1" + path, data=chunked(big), headers={**org.api.headers, **json_header}
    )
    problem = await resp.json()
    assert (resp.status, problem["code"]) == (422, "validation_failed")
    assert problem["errors"][0]["path"] == "/description"
    assert await snapshot(redis_client) == before


async def test_wrong_types_missing_and_unknown_fields_are_422(org: Org, redis_client: aioredis.Redis) -> None:
    path = f"/orgs/{org.id}/events"
    before = await snapshot(redis_client)
    cases: dict[str, Any] = {
        "/capacity": {**EVENT, "capacity": "500"},
        "/title": {k: v for k, v in EVENT.items() if k != "title"},
        "/colour": {**EVENT, "colour": "red"},
        "/starts_at": {**EVENT, "starts_at": "tomorrow"},
        "/": [EVENT],
    }
    for where, body in cases.items():
        reply = await org.api.post(path, body, expect=422)
        assert reply.code == "validation_failed"
        assert where in [e["path"] for e in reply.body["errors"]], (where, reply.body)
    assert await snapshot(redis_client) == before


async def test_negative_prices_and_quotas_are_refused(org: Org, new_client: ClientFactory) -> None:
    shop = await open_shop(org, new_client)
    for field, value in (("price_minor", -1), ("quota", -5), ("per_order_max", 0), ("currency", "eur")):
        reply = await org.api.post(shop.base + "/ticket-types", {**TICKET_TYPE, field: value}, expect=422)
        assert reply.body["errors"][0]["path"] == f"/{field}"
    assert (await org.api.get(shop.base + "/ticket-types", expect=200)).body["items"] == []


async def test_unknown_routes_and_methods_are_problems(org: Org) -> None:
    reply = await org.api.client.get("/api/v1/no/such/route")
    assert reply.status == 404
    assert reply.content_type == "application/problem+json"
    reply = await org.api.client.put(f"/api/v1/orgs/{org.id}/events")
    assert reply.status == 405
    assert reply.content_type == "application/problem+json"
    assert (await org.api.get(f"/orgs/{org.id}/events/not-an-id", expect=404)).code == "not_found"
    assert (await org.api.get(f"/orgs/{org.id}/events/evt_%7B%7D", expect=404)).code == "not_found"


def _json() -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=30)
        | st.sampled_from(
            ["", "2030-05-01T09:00:00Z", "Europe/Berlin", "EUR", "stage", "evt_AAAAAAAAAAAAAAAA"]
        )
    )
    return st.recursive(
        leaves,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
        max_leaves=12,
    )


VALID: dict[str, dict[str, Any]] = {
    "/events": EVENT,
    "/ticket-types": TICKET_TYPE,
    "/spaces": {"name": "Main", "kind": "stage", "capacity": 10},
    "/agenda": {
        "title": "T",
        "space_id": "spc_AAAAAAAAAAAAAAAA",
        "starts_at": "2030-05-01T10:00:00+02:00",
        "ends_at": "2030-05-01T11:00:00+02:00",
    },
    "/orders": {
        "ticket_type_id": "tt_AAAAAAAAAAAAAAAA",
        "quantity": 1,
        "buyer": {"name": "A", "email": "a@example.com"},
    },
    "/members": {"email": "m@example.com", "name": "M", "role": "staff", "password": "long enough password"},
    "/api-keys": {"name": "k", "role": "staff"},
    "/check-ins": {"ticket_code": "tkt_AAAAAAAAAAAAAAAA.abc"},
    "PATCH ": {"title": "Renamed", "capacity": 3, "ends_at": "2030-05-04T18:00:00+02:00"},
    "PATCH /ticket-types/tt_AAAAAAAAAAAAAAAA": {"quota": 7, "sales_end": "2098-01-01T00:00:00Z"},
}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    """A target (``"[METHOD ]path"``) and a body: random JSON, or a valid body with one field
    broken, dropped or added."""
    target = draw(st.sampled_from(sorted(VALID)))
    if draw(st.booleans()):
        return target, draw(_json())
    body = dict(VALID[target])
    key = draw(st.sampled_from([*sorted(body), "unexpected"]))
    if draw(st.booleans()) and key in body:
        del body[key]
    else:
        body[key] = draw(_json())
    return target, body


_SHOPS: dict[str, tuple[Shop, dict[str, str]]] = {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
async def test_fuzzed_bodies_never_5xx_and_refusals_store_nothing(
    case: tuple[str, Any], org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    if org.id not in _SHOPS:
        shop = await open_shop(org, new_client)
        tt = await shop.ticket_type()
        stage = await org.api.post(
            shop.base + "/spaces", {"name": "S", "kind": "stage", "capacity": 9}, expect=201
        )
        _SHOPS[org.id] = (shop, {"tt_AAAAAAAAAAAAAAAA": tt["id"], "spc_AAAAAAAAAAAAAAAA": stage.body["id"]})
    shop, real_ids = _SHOPS[org.id]
    target, body = case
    if isinstance(body, dict):
        body = {k: real_ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    base = f"/orgs/{org.id}" if target in ("/events", "/members", "/api-keys") else shop.base
    method, _, target = target.rpartition(" ")
    for placeholder, real in real_ids.items():
        target = target.replace(placeholder, real)
    before = await snapshot(redis_client)
    headers = {"Idempotency-Key": uuid.uuid4().hex} if target == "/orders" else None
    reply = await org.api.call(method or "POST", base + target, body, headers=headers)
    assert reply.status < 500
    if reply.status >= 400:
        assert reply.code is not None
        assert await snapshot(redis_client) == before, (target, body, reply.body)
