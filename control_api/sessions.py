"""Browser sessions: an opaque cookie token, stored hashed in Redis, with a CSRF token.

CSRF protection is the double-submit pattern tied to the session: login sets the HTTP-only
session cookie and a readable ``vk_csrf`` cookie; every unsafe request authenticated by the
session cookie must echo that value in ``X-CSRF-Token``, and it must equal the value stored
with the session (:func:`csrf_ok`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis

from control_api.ids import UserId
from control_api.store import dumps, get_json, global_key

SESSION_COOKIE: Final = "vk_session"
CSRF_COOKIE: Final = "vk_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
SESSION_TTL_S: Final = 12 * 3600


@dataclass(frozen=True, slots=True)
class BrowserSession:
    user_id: UserId
    csrf_token: str
    expires_at_ms: int


def csrf_ok(session: BrowserSession, header: str | None, cookie: str | None) -> bool:
    """Double submit: header and cookie both present, equal, and equal to the session's token."""
    if not header or not cookie:
        return False
    return hmac.compare_digest(header, cookie) and hmac.compare_digest(header, session.csrf_token)


def _key(token: str) -> str:
    return global_key("session", hashlib.sha256(token.encode()).hexdigest())


class SessionStore:
    def __init__(self, redis: aioredis.Redis, ttl_s: int = SESSION_TTL_S) -> None:
        self._redis = redis
        self.ttl_s = ttl_s

    async def create(self, user_id: UserId, now_ms: int) -> tuple[str, BrowserSession]:
        """A new session; returns the cookie token (stored only as a hash) and the session."""
        token = secrets.token_urlsafe(32)
        session = BrowserSession(user_id, secrets.token_urlsafe(24), now_ms + self.ttl_s * 1000)
        record = {"user_id": user_id, "csrf": session.csrf_token, "expires_at_ms": session.expires_at_ms}
        await self._redis.set(_key(token), dumps(record), ex=self.ttl_s)
        return token, session

    async def get(self, token: str) -> BrowserSession | None:
        record = await get_json(self._redis, _key(token))
        if not isinstance(record, dict):
            return None
        return BrowserSession(UserId(record["user_id"]), record["csrf"], record["expires_at_ms"])

    async def delete(self, token: str) -> None:
        await self._redis.delete(_key(token))
