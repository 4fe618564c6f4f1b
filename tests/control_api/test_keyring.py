"""Signing-key rotation: the pure plan, and the Redis keyring against a real server."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from control_api.keyring import KEYS_KEY, KeyInfo, Keyring, plan
from control_api.tokens import CLOCK_SKEW_S, MAX_LIFETIME_S, issue, make_claims, verify
from tests.control_api.support import SECRET_KEY

DAY_S = 24 * 3600


def test_plan_rotates_old_keys_and_prunes_only_unneeded_ones() -> None:
    current = KeyInfo("k2", 1000, None)
    recent = KeyInfo("k1", 0, 1000)
    assert plan(None, [], 5).rotate
    assert not plan(current, [current, recent], 1000 + DAY_S - 1).rotate
    assert plan(current, [current, recent], 1000 + DAY_S).rotate
    grace = MAX_LIFETIME_S + CLOCK_SKEW_S
    assert plan(current, [current, recent], 1000 + grace).expired == ()
    assert plan(current, [current, recent], 1000 + grace + 1).expired == ("k1",)


async def test_rotation_keeps_old_tokens_verifiable_until_they_expire(redis_client: aioredis.Redis) -> None:
    ring = Keyring(redis_client, SECRET_KEY, rotate_after_s=DAY_S)
    t0 = 1_900_000_000
    first = await ring.current(t0)
    assert (await ring.current(t0 + 60)).kid == first.kid
    token = issue(
        make_claims(
            participant_id="ptc_1",
            org_id="org_1",
            event_id="evt_1",
            name="A",
            role="attendee",
            teams=[],
            spaces=["*"],
            ticket_id=None,
            now_s=t0 + DAY_S - 10,
        ),
        first,
    )
    second = await ring.current(t0 + DAY_S)
    assert second.kid != first.kid
    jwks = await ring.jwks()
    assert {k["kid"] for k in jwks["keys"]} == {first.kid, second.kid}
    assert verify(token, jwks, t0 + DAY_S).participant_id == "ptc_1"
    # once every token of the old key has expired, the key is no longer published
    await ring.current(t0 + DAY_S + MAX_LIFETIME_S + CLOCK_SKEW_S + 1)
    assert {k["kid"] for k in (await ring.jwks())["keys"]} == {second.kid}


async def test_private_keys_are_stored_encrypted_and_shared_between_servers(
    redis_client: aioredis.Redis,
) -> None:
    a = Keyring(redis_client, SECRET_KEY)
    b = Keyring(redis_client, SECRET_KEY)
    keys = await asyncio.gather(*(ring.current(1_900_000_000) for ring in (a, b, a, b)))
    assert len({k.kid for k in keys}) == 1  # concurrent first use settles on one key
    stored = str((await redis_client.hgetall(KEYS_KEY)).values())
    assert "PRIVATE KEY" not in stored and "kid" in stored
    assert (await a.rotate_now(1_900_000_100)).kid == (await b.current(1_900_000_100)).kid


async def test_a_changed_secret_key_rotates_instead_of_failing(redis_client: aioredis.Redis) -> None:
    old = await Keyring(redis_client, SECRET_KEY).current(1_900_000_000)
    fresh = await Keyring(redis_client, "another-secret-key-of-enough-length-42").current(1_900_000_010)
    assert fresh.kid != old.kid
    assert {k["kid"] for k in (await Keyring(redis_client, SECRET_KEY).jwks())["keys"]} == {
        old.kid,
        fresh.kid,
    }
