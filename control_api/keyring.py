"""Join-token signing keys: kept in Redis (private parts encrypted), rotated, published as JWKS.

Rotation rule (:func:`plan`, pure): the newest key signs until it is ``rotate_after_s`` old;
then a new key is made and the old one is retired. A retired key is still published until
every token it signed has expired (``MAX_LIFETIME_S`` + clock skew after retirement), then
deleted. Two servers that rotate at the same moment agree through a compare-and-set on the
current key id, so at most one new key wins.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from cryptography.fernet import Fernet, InvalidToken

from control_api.store import dumps, global_key, loads, text
from control_api.tokens import CLOCK_SKEW_S, MAX_LIFETIME_S, SigningKey

log = logging.getLogger(__name__)

ROTATE_AFTER_S: Final = 24 * 3600
KEYS_KEY: Final = global_key("{jwk}", "keys")
CURRENT_KEY: Final = global_key("{jwk}", "current")

_ROTATE: Final = """
-- KEYS: keys hash, current kid; ARGV: expected current kid ('' none), new kid, new json,
--       old kid, old json (retired)
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[4], ARGV[5]) end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    kid: str
    created_at_s: int
    retired_at_s: int | None


@dataclass(frozen=True, slots=True)
class Plan:
    rotate: bool
    """Make a new key and retire ``current``."""
    expired: tuple[str, ...]
    """Retired keys no token can still need: delete them."""


def plan(
    current: KeyInfo | None, keys: list[KeyInfo], now_s: int, rotate_after_s: int = ROTATE_AFTER_S
) -> Plan:
    rotate = current is None or now_s - current.created_at_s >= rotate_after_s
    grace_s = MAX_LIFETIME_S + CLOCK_SKEW_S
    expired = tuple(k.kid for k in keys if k.retired_at_s is not None and now_s - k.retired_at_s > grace_s)
    return Plan(rotate, expired)


class Keyring:
    def __init__(self, redis: aioredis.Redis, secret_key: str, rotate_after_s: int = ROTATE_AFTER_S) -> None:
        self._redis = redis
        digest = hashlib.sha256(b"venuekit-signing-keys:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._rotate = redis.register_script(_ROTATE)
        self._private: dict[str, SigningKey] = {}
        self.rotate_after_s = rotate_after_s

    async def _records(self) -> dict[str, dict[str, Any]]:
        raw = await self._redis.hgetall(KEYS_KEY)
        return {text(k) or "": loads(v) for k, v in raw.items()}

    @staticmethod
    def _info(record: dict[str, Any]) -> KeyInfo:
        return KeyInfo(record["kid"], record["created_at_s"], record["retired_at_s"])

    def _load(self, record: dict[str, Any]) -> SigningKey:
        kid = record["kid"]
        if kid not in self._private:
            pem = self._fernet.decrypt(record["private"].encode())
            self._private[kid] = SigningKey.from_pem(kid, pem)
        return self._private[kid]

    async def current(self, now_s: int) -> SigningKey:
        """The key to sign with now, rotating (and pruning) first when the rule says so."""
        for _ in range(5):
            records = await self._records()
            current_kid = text(await self._redis.get(CURRENT_KEY))
            current = records.get(current_kid or "")
            decision = plan(
                None if current is None else self._info(current),
                [self._info(r) for r in records.values()],
                now_s,
                self.rotate_after_s,
            )
            if decision.expired:
                await self._redis.hdel(KEYS_KEY, *decision.expired)
            if not decision.rotate and current is not None:
                try:
                    return self._load(current)
                except InvalidToken:
                    log.warning(
                        "signing key %s was encrypted with another secret key; rotating", current["kid"]
                    )
            await self._rotate_from(current, now_s)
        raise RuntimeError("signing key rotation did not settle")

    async def rotate_now(self, now_s: int) -> SigningKey:
        """Force a rotation (operator action, tests); returns the new current key."""
        records = await self._records()
        current = records.get(text(await self._redis.get(CURRENT_KEY)) or "")
        await self._rotate_from(current, now_s)
        return await self.current(now_s)

    async def _rotate_from(self, current: dict[str, Any] | None, now_s: int) -> None:
        key = SigningKey.generate()
        record = {
            "kid": key.kid,
            "created_at_s": now_s,
            "retired_at_s": None,
            "private": self._fernet.encrypt(key.to_pem()).decode(),
            "public": key.public_jwk(),
        }
        old_kid, old_json = "", b""
        if current is not None:
            old_kid = current["kid"]
            old_json = dumps({**current, "retired_at_s": now_s})
        await self._rotate(
            keys=[KEYS_KEY, CURRENT_KEY],
            args=[old_kid, key.kid, dumps(record), old_kid, old_json],
        )

    async def jwks(self) -> dict[str, Any]:
        """Every published public key (current and still-needed retired ones)."""
        records = await self._records()
        return {"keys": [r["public"] for r in sorted(records.values(), key=lambda r: r["created_at_s"])]}
