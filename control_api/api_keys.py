"""Per-organisation API keys for scripts: only a hash of the secret is stored; revocable.

A secret looks like ``vk_<key id>_<random>``. ``vk:apikey:<sha256(secret)>`` maps it to its
organisation and key id; ``vk:{org:<id>}:api-keys`` holds the keys' public records. A key is
valid only while both exist, so revoking deletes the org record first.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TypedDict

import redis.asyncio as aioredis

from control_api.clock import format_ms
from control_api.ids import ApiKeyId, OrgId, new_id
from control_api.problems import ApiError
from control_api.roles import Role
from control_api.store import dumps, global_key, loads, org_key


class ApiKeyRecord(TypedDict):
    id: str
    name: str
    role: str
    created_at: str


@dataclass(frozen=True, slots=True)
class ApiKeyGrant:
    org_id: OrgId
    key_id: ApiKeyId
    role: Role


def _lookup_key(secret: str) -> str:
    return global_key("apikey", hashlib.sha256(secret.encode()).hexdigest())


class ApiKeyStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def create(self, org_id: OrgId, name: str, role: Role, now_ms: int) -> tuple[ApiKeyRecord, str]:
        key_id = ApiKeyId(new_id("key"))
        secret = f"vk_{key_id}_{secrets.token_urlsafe(32)}"
        record: ApiKeyRecord = {
            "id": key_id,
            "name": name,
            "role": role.value,
            "created_at": format_ms(now_ms),
        }
        await self._redis.hset(org_key(org_id, "api-keys"), key_id, dumps(record))
        await self._redis.set(_lookup_key(secret), dumps({"org_id": org_id, "key_id": key_id}))
        return record, secret

    async def list(self, org_id: OrgId) -> list[ApiKeyRecord]:
        raw = await self._redis.hgetall(org_key(org_id, "api-keys"))
        records: list[ApiKeyRecord] = [loads(v) for v in raw.values()]
        return sorted(records, key=lambda r: r["id"])

    async def revoke(self, org_id: OrgId, key_id: ApiKeyId) -> None:
        if not await self._redis.hdel(org_key(org_id, "api-keys"), key_id):
            raise ApiError(404, "not_found", "no such API key")

    async def resolve(self, secret: str) -> ApiKeyGrant | None:
        """The grant of a presented secret, or None when unknown or revoked."""
        raw = await self._redis.get(_lookup_key(secret))
        if raw is None:
            return None
        found = loads(raw)
        org_id, key_id = OrgId(found["org_id"]), ApiKeyId(found["key_id"])
        record_raw = await self._redis.hget(org_key(org_id, "api-keys"), key_id)
        if record_raw is None:
            await self._redis.delete(_lookup_key(secret))
            return None
        record: ApiKeyRecord = loads(record_raw)
        return ApiKeyGrant(org_id, key_id, Role(record["role"]))
