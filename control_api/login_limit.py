"""Login rate limiting: failed logins counted per e-mail and per client address in Redis.

The rule is pure (:func:`allowed`); :class:`LoginLimiter` keeps fixed-window counters. A
success does not reset the counters: an attacker who knows one password learns nothing
about the window's state of another account.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis

from control_api.store import global_key

WINDOW_S: Final = 15 * 60
MAX_FAILURES_PER_EMAIL: Final = 5
MAX_FAILURES_PER_CLIENT: Final = 50


@dataclass(frozen=True, slots=True)
class Limits:
    per_email: int = MAX_FAILURES_PER_EMAIL
    per_client: int = MAX_FAILURES_PER_CLIENT
    window_s: int = WINDOW_S


def allowed(email_failures: int, client_failures: int, limits: Limits) -> bool:
    """Whether another login attempt may be checked given the failures in the window."""
    return email_failures < limits.per_email and client_failures < limits.per_client


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginLimiter:
    def __init__(self, redis: aioredis.Redis, limits: Limits | None = None) -> None:
        self._redis = redis
        self.limits = limits or Limits()

    def _keys(self, email: str, client: str) -> tuple[str, str]:
        return (
            global_key("login-fail", "email", _digest(email.lower())),
            global_key("login-fail", "client", _digest(client)),
        )

    async def may_try(self, email: str, client: str) -> bool:
        email_key, client_key = self._keys(email, client)
        email_raw = await self._redis.get(email_key)
        client_raw = await self._redis.get(client_key)
        return allowed(int(email_raw or 0), int(client_raw or 0), self.limits)

    async def record_failure(self, email: str, client: str) -> None:
        for key in self._keys(email, client):
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, self.limits.window_s, nx=True)
            await pipe.execute()
