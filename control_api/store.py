"""Redis plumbing shared by the aggregate stores: key names and JSON records.

Every key of an organisation carries the hash tag ``{org:<id>}`` so that all keys of one
atomic operation (a Lua script, a MULTI) live in one Redis Cluster slot. Records are JSON
values; a store updates one by reading it, applying a pure rule, and writing it back with a
Lua compare-and-set only if it did not change meanwhile, at most :data:`CAS_ATTEMPTS` times.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import redis.asyncio as aioredis

from control_api.ids import OrgId

Redis = aioredis.Redis
PREFIX: Final = "vk"
CAS_ATTEMPTS: Final = 20


def org_key(org_id: OrgId, *parts: str) -> str:
    """``vk:{org:<id>}:part:part``: a key of one tenant, in that tenant's hash slot."""
    return f"{PREFIX}:{{org:{org_id}}}:" + ":".join(parts)


def event_capacity_key(org_id: OrgId, event_id: str) -> str:
    """Hash ``capacity``, ``sold`` of an event: written by the venue store when the event is
    made or its capacity edited, counted by the ticketing store's order script."""
    return org_key(org_id, "event", event_id, "capacity")


def event_key(org_id: OrgId, event_id: str) -> str:
    """The event record (JSON) that the venue store owns; the order path reads it too."""
    return org_key(org_id, "event", event_id)


def global_key(*parts: str) -> str:
    """``vk:part:part``: a key that belongs to no tenant (users, sessions, signing keys)."""
    return f"{PREFIX}:" + ":".join(parts)


def text(raw: object) -> str | None:
    """A Redis reply as ``str`` (clients may or may not decode responses)."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        return raw.decode()
    return str(raw)


def dumps(value: object) -> bytes:
    return orjson.dumps(value)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


async def get_json(redis: Redis, key: str) -> Any | None:
    raw = await redis.get(key)
    return None if raw is None else loads(raw)


async def get_many_json(redis: Redis, keys: list[str]) -> list[Any]:
    """The records stored at ``keys`` (all in one slot), skipping keys that vanished."""
    if not keys:
        return []
    raws = await redis.mget(keys)
    return [loads(raw) for raw in raws if raw is not None]
