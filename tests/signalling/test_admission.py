"""Admission with real ES256 join tokens, key rotation and revocation records in Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from control_api.revocation import participant_key, ticket_key
from control_api.tokens import SigningKey, issue, make_claims
from signalling.admission import JoinTokenAdmitter
from signalling.gateway import GatewayError
from signalling.kinds import Role


class Keys:
    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0

    async def jwks(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": [k.public_jwk() for k in self.keys]}


def _token(key: SigningKey, *, lifetime_s: int = 600, now_s: int | None = None, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "participant_id": "p-1",
        "org_id": "org-1",
        "event_id": "evt-1",
        "name": "Ada",
        "role": "speaker",
        "teams": ["team-x"],
        "spaces": ["*"],
        "ticket_id": "tkt-1",
    }
    fields |= overrides
    return issue(make_claims(now_s=now_s or int(time.time()), lifetime_s=lifetime_s, **fields), key)


async def test_valid_token_admits_the_member_it_names(redis_client: aioredis.Redis) -> None:
    key = SigningKey.generate()
    admitted = await JoinTokenAdmitter(Keys(key), redis_client).admit(_token(key), time.time())
    member = admitted.member
    assert (member.participant_id, member.event_id, member.display_name) == ("p-1", "evt-1", "Ada")
    assert member.role is Role.SPEAKER
    assert member.teams == {"team-x"} and member.spaces == {"*"}
    assert admitted.org_id == "org-1"


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda key, other: _token(key, now_s=int(time.time()) - 3600), "token_expired"),
        (lambda key, other: _token(other), "token_unknown_key"),
        (lambda key, other: _token(key)[:-4] + "AAAA", "token_invalid"),
        (lambda key, other: "not-a-jwt", "token_invalid"),
    ],
)
async def test_bad_tokens_are_refused_with_their_code(
    redis_client: aioredis.Redis, make: Any, code: str
) -> None:
    key, forger = SigningKey.generate(), SigningKey.generate()
    with pytest.raises(GatewayError) as info:
        await JoinTokenAdmitter(Keys(key), redis_client).admit(make(key, forger), time.time())
    assert info.value.code == code


async def test_a_rotated_key_is_fetched_when_first_seen(redis_client: aioredis.Redis) -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    keys = Keys(old)
    admitter = JoinTokenAdmitter(keys, redis_client)
    await admitter.admit(_token(old), time.time())
    await admitter.admit(_token(old), time.time())
    assert keys.fetches == 1, "keys are cached"
    keys.keys.append(new)
    await admitter.admit(_token(new), time.time())
    assert keys.fetches == 2


@pytest.mark.parametrize("record", ["ticket", "participant"])
async def test_revoked_tickets_and_participants_stop_new_joins(
    redis_client: aioredis.Redis, record: str
) -> None:
    key = SigningKey.generate()
    admitter = JoinTokenAdmitter(Keys(key), redis_client)
    token = _token(key)
    await admitter.admit(token, time.time())
    revoked = ticket_key("org-1", "tkt-1") if record == "ticket" else participant_key("org-1", "p-1")
    await redis_client.set(revoked, "1")
    with pytest.raises(GatewayError) as info:
        await admitter.admit(token, time.time())
    assert info.value.code == "token_revoked"
