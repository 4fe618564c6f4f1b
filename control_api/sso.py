"""Single sign-on records and rules: each organisation's OIDC configuration, the pending logins
(state, nonce, PKCE verifier), links from provider identities to users, and the pure rules
that decide who may sign in and with which role.

Layout:

- ``vk:{org:<id>}:sso`` — the configuration JSON (never the client secret)
- ``vk:{org:<id>}:sso-secret`` — the client secret, encrypted with a key derived from
  ``VENUEKIT_SECRET_KEY`` (Fernet); the API never returns it
- ``vk:{org:<id>}:sso-grants`` — hash ``<user>:<ticket type>`` -> ticket id granted on sign-in
- ``vk:sso-flow:<sha256(state)>`` — a pending login (org, nonce, verifier, next), 10 minutes,
  taken once (GETDEL)
- ``vk:sso-identity:<sha256(issuer, sub)>`` — user id of a provider identity
- ``vk:sso-start:<client>`` — login starts per client address in the current minute
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Final, TypedDict

import redis.asyncio as aioredis
from cryptography.fernet import Fernet, InvalidToken

from control_api.ids import OrgId, UserId
from control_api.roles import Role
from control_api.store import dumps, get_json, global_key, loads, org_key, text

FLOW_TTL_S: Final = 600
STARTS_PER_MINUTE: Final = 30
DEFAULT_TIMEOUT_S: Final = 10.0
_ROLE_RANK: Final = {Role.ATTENDEE: 0, Role.STAFF: 1, Role.ORGANISER: 2}


class TicketGrant(TypedDict):
    event_id: str
    ticket_type_id: str


class SsoConfig(TypedDict):
    issuer: str
    client_id: str
    allowed_domains: list[str]
    role_claim: str
    role_map: dict[str, str]
    default_role: str
    grant_tickets: list[TicketGrant]
    timeout_s: float
    updated_at: str


class Flow(TypedDict):
    org_id: str
    nonce: str
    verifier: str
    redirect_uri: str
    next: str


def email_allowed(email: str, domains: list[str]) -> bool:
    """The e-mail's domain is one of ``domains`` exactly (no subdomains, case-insensitive)."""
    local, at, domain = email.strip().rpartition("@")
    return bool(at and local) and domain.lower() in {d.lower() for d in domains}


def role_from_claims(claims: dict[str, Any], config: SsoConfig) -> Role:
    """The highest role the claim's values map to; ``default_role`` when none maps.

    Single sign-on never makes an owner (the schema refuses ``owner`` in the mapping).
    """
    raw = claims.get(config["role_claim"]) if config["role_claim"] else None
    values = (
        [raw]
        if isinstance(raw, str)
        else [v for v in raw if isinstance(v, str)]
        if isinstance(raw, list)
        else []
    )
    mapped = [Role(config["role_map"][v]) for v in values if v in config["role_map"]]
    if not mapped:
        return Role(config["default_role"])
    return max(mapped, key=lambda r: _ROLE_RANK[r])


def safe_next(value: str | None) -> str:
    """A same-origin path to go to after signing in; anything else becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 for c in value) or len(value) > 512:
        return "/"
    return value


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class SsoStore:
    def __init__(self, redis: aioredis.Redis, secret_key: str) -> None:
        self._redis = redis
        digest = hashlib.sha256(b"venuekit-sso-client-secrets:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    async def config(self, org_id: OrgId) -> SsoConfig | None:
        found: SsoConfig | None = await get_json(self._redis, org_key(org_id, "sso"))
        return found

    async def client_secret(self, org_id: OrgId) -> str | None:
        raw = await self._redis.get(org_key(org_id, "sso-secret"))
        if raw is None:
            return None
        try:
            return self._fernet.decrypt(raw).decode()
        except InvalidToken:
            return None  # encrypted under another VENUEKIT_SECRET_KEY: the owner sets it again

    async def put(self, org_id: OrgId, config: SsoConfig, client_secret: str | None) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(org_key(org_id, "sso"), dumps(config))
        if client_secret is not None:
            pipe.set(org_key(org_id, "sso-secret"), self._fernet.encrypt(client_secret.encode()))
        await pipe.execute()

    async def delete(self, org_id: OrgId) -> bool:
        return bool(await self._redis.delete(org_key(org_id, "sso"), org_key(org_id, "sso-secret")))

    async def may_start(self, client: str) -> bool:
        """At most :data:`STARTS_PER_MINUTE` logins started per client address and minute."""
        key = global_key("sso-start", _hash(client))
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 60, nx=True)
        count, _ = await pipe.execute()
        return int(count) <= STARTS_PER_MINUTE

    async def save_flow(self, state: str, flow: Flow) -> None:
        await self._redis.set(global_key("sso-flow", _hash(state)), dumps(flow), ex=FLOW_TTL_S)

    async def take_flow(self, state: str) -> Flow | None:
        """The pending login of ``state``, removed as it is read (a state works once)."""
        raw = await self._redis.getdel(global_key("sso-flow", _hash(state)))
        if raw is None:
            return None
        flow: Flow = loads(raw)
        return flow

    async def linked_user(self, issuer: str, subject: str) -> UserId | None:
        found = text(await self._redis.get(global_key("sso-identity", _hash(issuer, subject))))
        return None if found is None else UserId(found)

    async def link(self, issuer: str, subject: str, user_id: UserId) -> UserId:
        """Link the identity to ``user_id`` unless it is linked already; the linked user."""
        key = global_key("sso-identity", _hash(issuer, subject))
        await self._redis.set(key, user_id, nx=True)
        return UserId(text(await self._redis.get(key)) or user_id)

    async def claim_grant(self, org_id: OrgId, user_id: UserId, type_id: str) -> bool:
        """Reserve the one automatic ticket of a user for a ticket type; False if it exists."""
        return bool(await self._redis.hsetnx(org_key(org_id, "sso-grants"), f"{user_id}:{type_id}", "-"))

    async def record_grant(self, org_id: OrgId, user_id: UserId, type_id: str, ticket_id: str | None) -> None:
        key, field = org_key(org_id, "sso-grants"), f"{user_id}:{type_id}"
        if ticket_id is None:
            await self._redis.hdel(key, field)
        else:
            await self._redis.hset(key, field, ticket_id)

    async def granted_tickets(self, org_id: OrgId, user_id: UserId) -> list[str]:
        raw = await self._redis.hgetall(org_key(org_id, "sso-grants"))
        prefix = f"{user_id}:"
        found = [text(v) or "" for k, v in raw.items() if (text(k) or "").startswith(prefix)]
        return sorted(t for t in found if t != "-")
