"""Store of organisations, users and memberships (the tenancy aggregate).

Layout (personal data lives apart from ids, so erasing a person keeps every count):

- ``vk:{org:<id>}:org`` — the organisation record (JSON)
- ``vk:{org:<id>}:members`` — hash user id -> role; the source of truth for membership
- ``vk:{org:<id>}:user-pids`` — hash ``<user>:<event>`` -> participant id of that member
- ``vk:user:<id>`` — hash with ``password_hash`` and ``created_at_ms`` (no personal data)
- ``vk:user:<id>:pii`` — hash with ``email`` and ``name``
- ``vk:user:<id>:orgs`` — hash org id -> role, an index for ``GET /me``
- ``vk:user-email:<sha256(email)>`` — user id (unique e-mail, SET NX)
- ``vk:orgs`` — set of every organisation id
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, TypedDict

import redis.asyncio as aioredis

from control_api.clock import format_ms
from control_api.ids import EventId, OrgId, ParticipantId, UserId, new_id
from control_api.passwords import Passwords
from control_api.problems import ApiError
from control_api.roles import Role
from control_api.store import dumps, get_json, global_key, org_key, text

ORGS_KEY: Final = global_key("orgs")
"""Set of every organisation id (the retention job's worklist)."""


class OrgRecord(TypedDict):
    id: str
    name: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Member:
    user_id: UserId
    role: Role
    email: str
    name: str

    def public(self) -> dict[str, str]:
        return {"user_id": self.user_id, "email": self.email, "name": self.name, "role": self.role.value}


def _email_key(email: str) -> str:
    return global_key("user-email", hashlib.sha256(email.strip().lower().encode()).hexdigest())


class AccountStore:
    def __init__(self, redis: aioredis.Redis, passwords: Passwords) -> None:
        self._redis = redis
        self._passwords = passwords

    async def create_user(self, email: str, name: str, password: str | None, now_ms: int) -> UserId:
        """A new account; ``email_taken`` (409) when the e-mail is registered already."""
        user_id = UserId(new_id("usr"))
        password_hash = await self._passwords.hash(password) if password is not None else ""
        if not await self._redis.set(_email_key(email), user_id, nx=True):
            raise ApiError(409, "email_taken", "an account with this e-mail exists")
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(
            global_key("user", user_id), mapping={"password_hash": password_hash, "created_at_ms": now_ms}
        )
        pipe.hset(global_key("user", user_id, "pii"), mapping={"email": email.strip(), "name": name})
        await pipe.execute()
        return user_id

    async def user_by_email(self, email: str) -> UserId | None:
        found = text(await self._redis.get(_email_key(email)))
        return None if found is None else UserId(found)

    async def check_password(self, email: str, password: str) -> UserId | None:
        """The user whose e-mail and password these are, else None (constant work either way)."""
        user_id = await self.user_by_email(email)
        stored = None
        if user_id is not None:
            stored = text(await self._redis.hget(global_key("user", user_id), "password_hash")) or None
        ok = await self._passwords.verify(stored, password)
        return user_id if ok and stored is not None else None

    async def profile(self, user_id: UserId) -> tuple[str, str]:
        """(email, name) of a user; empty strings once erased."""
        email, name = await self._redis.hmget(global_key("user", user_id, "pii"), ["email", "name"])
        return text(email) or "", text(name) or ""

    async def create_org(self, name: str, owner: UserId, now_ms: int) -> OrgRecord:
        org_id = OrgId(new_id("org"))
        record: OrgRecord = {"id": org_id, "name": name, "created_at": format_ms(now_ms)}
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(org_key(org_id, "org"), dumps(record))
        pipe.hset(org_key(org_id, "members"), owner, Role.OWNER.value)
        await pipe.execute()
        await self._redis.hset(global_key("user", owner, "orgs"), org_id, Role.OWNER.value)
        await self._redis.sadd(ORGS_KEY, org_id)
        return record

    async def org(self, org_id: OrgId) -> OrgRecord | None:
        found: OrgRecord | None = await get_json(self._redis, org_key(org_id, "org"))
        return found

    async def role_in(self, org_id: OrgId, user_id: UserId) -> Role | None:
        raw = text(await self._redis.hget(org_key(org_id, "members"), user_id))
        return None if raw is None else Role(raw)

    async def memberships(self, user_id: UserId) -> list[dict[str, str]]:
        raw = await self._redis.hgetall(global_key("user", user_id, "orgs"))
        found = [{"org_id": text(k) or "", "role": text(v) or ""} for k, v in raw.items()]
        return sorted(found, key=lambda m: m["org_id"])

    async def add_member(self, org_id: OrgId, user_id: UserId, role: Role) -> None:
        await self._redis.hset(org_key(org_id, "members"), user_id, role.value)
        await self._redis.hset(global_key("user", user_id, "orgs"), org_id, role.value)

    async def remove_member(self, org_id: OrgId, user_id: UserId) -> list[ParticipantId]:
        """Drop the membership; returns the participant ids the member had (to revoke them)."""
        removed = await self._redis.hdel(org_key(org_id, "members"), user_id)
        if not removed:
            raise ApiError(404, "not_found", "no such member")
        await self._redis.hdel(global_key("user", user_id, "orgs"), org_id)
        pids_key = org_key(org_id, "user-pids")
        prefix = f"{user_id}:"
        fields = [
            f for f in (text(k) or "" for k in await self._redis.hkeys(pids_key)) if f.startswith(prefix)
        ]
        if not fields:
            return []
        values = await self._redis.hmget(pids_key, fields)
        await self._redis.hdel(pids_key, *fields)
        return [ParticipantId(text(v) or "") for v in values if v is not None]

    async def members(self, org_id: OrgId) -> list[Member]:
        raw = await self._redis.hgetall(org_key(org_id, "members"))
        result = []
        for key, value in raw.items():
            user_id = UserId(text(key) or "")
            email, name = await self.profile(user_id)
            result.append(Member(user_id, Role(text(value) or ""), email, name))
        return sorted(result, key=lambda m: m.user_id)

    async def participant_of(self, org_id: OrgId, user_id: UserId, event_id: EventId) -> ParticipantId:
        """The member's stable participant id in one event (made on first use)."""
        key = org_key(org_id, "user-pids")
        field = f"{user_id}:{event_id}"
        await self._redis.hsetnx(key, field, new_id("ptc"))
        return ParticipantId(text(await self._redis.hget(key, field)) or "")
