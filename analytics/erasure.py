"""Personal data in the analytics log: a participant's attendance for an access export, and
re-keying their events to an anonymous id on erasure.

A Redis stream cannot be edited in place (``XADD`` only appends, ids only grow), so
:func:`rewrite_stream` copies the stream, entry by entry with the same ids, into a scratch key,
then swaps it in with one Lua script that first checks no entry arrived meanwhile (if one did,
it is copied and the swap tried again). The swap keeps the stream's last generated id, its
time to live and its consumer groups; a group's pending entries are not carried over, so the
group's position is moved back to just before its oldest pending entry and they are delivered
again (consumers of the analytics log are idempotent by event id). docs/privacy.md has the
options that were weighed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import redis.asyncio as aioredis

from analytics.attendance import fold
from analytics.log import read_log, stream_key

PAGE: Final = 1000
DERIVED_PREFIXES: Final = ("vk:an:{{{event}}}:",)
"""Keys of figures derived from an event's log (the live fold), re-keyed on erasure too."""
MAX_SWAP_ATTEMPTS: Final = 100

Fields = dict[str, str]
Transform = Callable[[Fields], Fields]

_SWAP: Final = """
-- KEYS: the stream, the scratch copy. ARGV: the id of the last entry copied ('' when none).
-- Returns 0 when entries arrived after it (copy them and call again), 1 once swapped.
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last = ''
if newest[1] then last = newest[1][1] end
if last ~= ARGV[1] then return 0 end
local function pairs_of(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
local function split(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(id)
  local ms, seq = split(id)
  if seq > 0 then return string.format('%.0f-%.0f', ms, seq - 1) end
  if ms > 0 then return string.format('%.0f-18446744073709551615', ms - 1) end
  return '0-0'
end
local function older(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  return am < bm or (am == bm and as < bs)
end
local info = pairs_of(redis.call('XINFO', 'STREAM', KEYS[1]))
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('XADD', KEYS[2], '0-1', 'x', '1')
  redis.call('XDEL', KEYS[2], '0-1')
end
redis.call('XSETID', KEYS[2], info['last-generated-id'])
for _, raw in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local group = pairs_of(raw)
  local start = group['last-delivered-id']
  if tonumber(group['pending']) > 0 then
    local oldest = redis.call('XPENDING', KEYS[1], group['name'])[2]
    if oldest and older(before(oldest), start) then start = before(oldest) end
  end
  redis.call('XGROUP', 'CREATE', KEYS[2], group['name'], start)
end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('RENAME', KEYS[2], KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def rewrite_stream(redis: aioredis.Redis, key: str, transform: Transform) -> int:
    """Replace every entry of stream ``key`` by ``transform(fields)``, keeping ids; atomic swap.

    Returns how many entries changed (0: the stream is left untouched). Safe to run again.
    """
    scratch = key + ":rewrite"
    await redis.delete(scratch)
    swap = redis.register_script(_SWAP)
    changed = 0
    last = ""
    try:
        for _ in range(MAX_SWAP_ATTEMPTS):
            while True:
                page: Any = await redis.xrange(key, min="(" + last if last else "-", count=PAGE)
                pipe = redis.pipeline(transaction=False)
                for raw_id, raw_fields in page:
                    fields = {_text(k): _text(v) for k, v in raw_fields.items()}
                    new = transform(fields)
                    changed += new != fields
                    pipe.xadd(scratch, new, id=_text(raw_id))  # type: ignore[arg-type]
                    last = _text(raw_id)
                if page:
                    await pipe.execute()
                if len(page) < PAGE:
                    break
            if not changed:
                return 0
            if await swap(keys=[key, scratch], args=[last]) == 1:
                return changed
        raise RuntimeError(f"{key} kept growing; rewrite not finished after {MAX_SWAP_ATTEMPTS} tries")
    finally:
        await redis.delete(scratch)


def renamer(renames: Mapping[str, str]) -> Transform:
    """A transform replacing each participant id of ``renames`` by its anonymous id, in every
    field (participant, actor, and ids inside ``detail``)."""

    def transform(fields: Fields) -> Fields:
        result = {}
        for name, value in fields.items():
            renamed = value
            for old, new in renames.items():
                if old in renamed:
                    renamed = renamed.replace(old, new)
            result[name] = renamed
        return result

    return transform


def _swap_ids(value: bytes, renames: Mapping[bytes, bytes]) -> bytes:
    for old, new in renames.items():
        if old in value:
            value = value.replace(old, new)
    return value


async def rekey_keys(redis: aioredis.Redis, match: str, renames: Mapping[str, str]) -> int:
    """Replace participant ids by anonymous ids in the names and contents of every key matching
    ``match`` (strings, hashes, sets, sorted sets, lists; streams through
    :func:`rewrite_stream`), each key in one transaction. Returns how many keys changed."""
    by = {old.encode(): new.encode() for old, new in renames.items()}
    changed = 0
    async for raw_key in redis.scan_iter(match=match, count=1000):
        key = raw_key if isinstance(raw_key, bytes) else str(raw_key).encode()
        kind = _text(await redis.type(key))
        if kind == "stream":
            changed += bool(await rewrite_stream(redis, key.decode(), renamer(renames)))
            continue
        pipe = redis.pipeline(transaction=True)
        touched = await _queue_rekey(redis, pipe, key, kind, by)
        target = _swap_ids(key, by)
        if target != key:
            pipe.rename(key, target)
            touched = True
        if touched:
            await pipe.execute()
            changed += 1
    return changed


async def _queue_rekey(  # noqa: PLR0911 - one arm per Redis type
    redis: aioredis.Redis, pipe: Any, key: bytes, kind: str, by: Mapping[bytes, bytes]
) -> bool:
    def swapped(value: Any) -> bytes:
        raw = value if isinstance(value, bytes) else str(value).encode()
        return _swap_ids(raw, by)

    if kind == "string":
        value = await redis.get(key)
        if value is None or swapped(value) == value:
            return False
        pipe.set(key, swapped(value), keepttl=True)
        return True
    if kind == "hash":
        entries: dict[Any, Any] = await redis.hgetall(key)
        stale = {f: v for f, v in entries.items() if swapped(f) != f or swapped(v) != v}
        if not stale:
            return False
        pipe.hdel(key, *stale)
        pipe.hset(key, mapping={swapped(f): swapped(v) for f, v in stale.items()})
        return True
    if kind == "set":
        members: set[Any] = await redis.smembers(key)
        stale_members = [m for m in members if swapped(m) != m]
        if not stale_members:
            return False
        pipe.srem(key, *stale_members)
        pipe.sadd(key, *(swapped(m) for m in stale_members))
        return True
    if kind == "zset":
        scored: list[Any] = await redis.zrange(key, 0, -1, withscores=True)
        stale_scored = [(m, s) for m, s in scored if swapped(m) != m]
        if not stale_scored:
            return False
        pipe.zrem(key, *(m for m, _ in stale_scored))
        pipe.zadd(key, {swapped(m): s for m, s in stale_scored})
        return True
    if kind == "list":
        items: list[Any] = await redis.lrange(key, 0, -1)
        if all(swapped(i) == i for i in items):
            return False
        ttl = await redis.pttl(key)
        pipe.delete(key)
        pipe.rpush(key, *(swapped(i) for i in items))
        if ttl > 0:
            pipe.pexpire(key, ttl)
        return True
    return False


class AnalyticsPersonalData:
    """The analytics part of access and erasure (a ``PersonalDataHolder`` of the control API)."""

    section: Final = "attendance"

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def export(self, event_id: str, participant_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Per participant id: online minutes and every analytics event that names them."""
        wanted = set(participant_ids)
        events = [e async for e in read_log(self._redis, event_id)]
        result = []
        for pid in sorted(wanted):
            own = [e for e in events if e.participant_id == pid]
            if not own:
                continue
            totals = fold([e for e in events if e.participant_id == pid or e.kind == "event_ended"])
            result.append(
                {
                    "participant_id": pid,
                    "minutes": round(totals.participant_minutes, 3),
                    "sessions": totals.sessions,
                    "events": [{"kind": e.kind, "at_ms": e.at_ms, "space_id": e.space_id} for e in own],
                }
            )
        return result

    async def erase(self, event_id: str, renames: Mapping[str, str]) -> int:
        """Re-key the participants' analytics events, and every figure derived from them, to
        their anonymous ids: each person still counts once and for the same minutes."""
        changed = await rewrite_stream(self._redis, stream_key(event_id), renamer(renames))
        for prefix in DERIVED_PREFIXES:
            changed += await rekey_keys(self._redis, _glob(prefix.format(event=event_id)) + "*", renames)
        return changed


def _glob(literal: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in literal)
