"""Random bodies at the privacy routes and the consent of the join-token exchange: never a 5xx,
always a problem document, and a refusal stores nothing (the request counter aside)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.control_api.conftest import ClientFactory, Org
from tests.control_api.test_tickets import Shop, open_shop
from tests.privacy.support import CONSENT, keyspace

_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.text(max_size=40)
    | st.sampled_from(["", "a@example.com", "2026-05", "x" * 40])
)
_JSON = st.recursive(
    _LEAF,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=10,
)
VALID: dict[str, dict[str, Any]] = {
    "PUT /privacy/settings": {"chat_days": 30, "analytics_days": 60, "recordings_days": 7},
    "POST /privacy/exports": {"email": "nobody@example.com"},
    "POST /privacy/erasures": {"email": "nobody@example.com"},
    "POST /join-tokens": {"consent": CONSENT},
}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    target = draw(st.sampled_from(sorted(VALID)))
    if draw(st.booleans()):
        return target, draw(_JSON)
    body = {k: dict(v) if isinstance(v, dict) else v for k, v in VALID[target].items()}
    inner = body.get("consent", body)
    key = draw(st.sampled_from([*sorted(inner), "unexpected"]))
    if draw(st.booleans()) and key in inner:
        del inner[key]
    else:
        inner[key] = draw(_JSON)
    return target, body


async def _stored(redis: aioredis.Redis) -> dict[bytes, bytes]:
    return {k: v for k, v in (await keyspace(redis)).items() if not k.startswith(b"vk:privacy-limit:")}


_SHOPS: dict[str, tuple[Shop, str]] = {}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
async def test_fuzzed_privacy_bodies_never_5xx_and_refusals_store_nothing(
    case: tuple[str, Any], org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    if org.id not in _SHOPS:
        shop = await open_shop(org, new_client)
        tt = await shop.ticket_type()
        order = await shop.order(tt["id"])
        _SHOPS[org.id] = (shop, order.body["tickets"][0]["code"])
    shop, code = _SHOPS[org.id]
    target, body = case
    method, path = target.split(" ")
    headers = None
    if path == "/join-tokens":
        path, headers = shop.base + path, {"Authorization": f"Ticket {code}"}
    else:
        path = f"/orgs/{org.id}" + path
    before = await _stored(redis_client)
    reply = await org.api.call(method, path, body, headers=headers)
    assert reply.status < 500
    if reply.status >= 400:
        assert reply.code is not None
        assert await _stored(redis_client) == before, (target, body, reply.body)
