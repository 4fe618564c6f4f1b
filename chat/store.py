"""The Redis-streams store of chat: append with retention, pages of history, replay, moderation.

Every write is one Lua script, so checks and writes are atomic: a message is appended only if
the channel is not locked and the sender not muted (organisers are exempt), a deletion removes
the message and appends its tombstone together. Reads that need several commands use one
pipeline on keys of the same hash slot. Redis errors become ``ChatError("unavailable")``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chat import keys
from chat.channels import Channel
from chat.errors import ChatError
from chat.grants import Grants
from chat.ids import EventId, MessageId, ParticipantId
from chat.model import ChatItem, ChatMessage, LockChanged, MessageDeleted, item_from_entry
from chat.retention import DEFAULT_RETENTION, Retention
from chat.validation import id_key

log = logging.getLogger(__name__)

NO_ID: Final = MessageId("0-0")
MAX_PAGE: Final = 500
SENT_MARKER_TTL_MS: Final = 600_000

# Appends one entry with the event's retention, under the next id of the event's sequence: ids
# are unique across all channels of an event, so an id names one channel's message only.
_TRIMMED_ADD: Final = """
local function next_id(sequence_key)
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local seq = 0
  local last = redis.call('GET', sequence_key)
  if last then
    local last_ms, last_seq = string.match(last, '^(%d+)-(%d+)$')
    if ms <= tonumber(last_ms) then
      ms = tonumber(last_ms)
      seq = tonumber(last_seq) + 1
    end
  end
  local id = string.format('%.0f-%.0f', ms, seq)
  redis.call('SET', sequence_key, id)
  return id, ms
end

local function trimmed_add(stream, retention_key, sequence_key, default_len, default_age, fields)
  local r = redis.call('HMGET', retention_key, 'max_len', 'max_age_ms')
  local max_len = tonumber(r[1]) or tonumber(default_len)
  local max_age = tonumber(r[2]) or tonumber(default_age)
  local id, ms = next_id(sequence_key)
  local args = {stream}
  if max_len > 0 then
    table.insert(args, 'MAXLEN'); table.insert(args, '~'); table.insert(args, string.format('%.0f', max_len))
  end
  table.insert(args, id)
  for i = 1, #fields do table.insert(args, fields[i]) end
  redis.call('XADD', unpack(args))
  if max_age > 0 then
    redis.call('XTRIM', stream, 'MINID', string.format('%.0f', ms - max_age))
    redis.call('PEXPIRE', stream, max_age)
  end
  return id, max_age
end
"""

# KEYS: stream, moderation, retention, sequence[, sent marker]. ARGV: default len, default age, now_ms,
# sender, exempt, name, role, text, marker ttl ms. With a sent marker (the client's id for this send)
# a retried send returns the id stored the first time instead of storing the message twice.
_APPEND_MESSAGE: Final = (
    _TRIMMED_ADD
    + """
if KEYS[5] then
  local earlier = redis.call('GET', KEYS[5])
  if earlier then return {'duplicate', earlier} end
end
if ARGV[5] ~= '1' then
  local mod = redis.call('HMGET', KEYS[2], 'locked', 'mute:' .. ARGV[4])
  if mod[1] == '1' then return {'channel_locked', '0'} end
  if mod[2] then
    local until_ms = tonumber(mod[2])
    if until_ms == 0 or until_ms > tonumber(ARGV[3]) then return {'muted', mod[2]} end
  end
end
local id = trimmed_add(KEYS[1], KEYS[3], KEYS[4], ARGV[1], ARGV[2],
  {'k', 'm', 's', ARGV[4], 'n', ARGV[6], 'r', ARGV[7], 't', ARGV[8]})
if KEYS[5] then redis.call('SET', KEYS[5], id, 'PX', ARGV[9]) end
return {'ok', id}
"""
)

# KEYS: stream, deleted set, retention, sequence. ARGV: default len, default age, target id, by.
_DELETE_MESSAGE: Final = (
    _TRIMMED_ADD
    + """
local entries = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])
if #entries == 0 then return {'unknown_message_id', ''} end
local fields = entries[1][2]
local kind = nil
for i = 1, #fields, 2 do if fields[i] == 'k' then kind = fields[i + 1] end end
if kind ~= 'm' then return {'unknown_message_id', ''} end
redis.call('XDEL', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[3])
local id, max_age = trimmed_add(KEYS[1], KEYS[3], KEYS[4], ARGV[1], ARGV[2],
  {'k', 'd', 'x', ARGV[3], 'b', ARGV[4]})
if max_age > 0 then redis.call('PEXPIRE', KEYS[2], max_age) end
return {'ok', id}
"""
)

# KEYS: stream, moderation, retention, sequence. ARGV: default len, default age, '1' to lock or '0', by.
_SET_LOCK: Final = (
    _TRIMMED_ADD
    + """
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[2], 'locked', '1')
else
  redis.call('HDEL', KEYS[2], 'locked')
end
local id = trimmed_add(KEYS[1], KEYS[3], KEYS[4], ARGV[1], ARGV[2], {'k', 'l', 'v', ARGV[3], 'b', ARGV[4]})
return {'ok', id}
"""
)


def _keys(channel: Channel, state_key: str) -> list[str]:
    return [
        keys.stream_key(channel),
        state_key,
        keys.retention_key(channel.event_id),
        keys.sequence_key(channel.event_id),
    ]


def _str(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages oldest first; ``more`` when older ones exist before ``messages[0]``."""

    messages: list[ChatMessage]
    more: bool


@dataclass(frozen=True, slots=True)
class ReplayPage:
    """Items after the requested id, oldest first; ``more`` when the page was cut at ``limit``.

    ``truncated`` when the requested id is older than everything retention kept, so messages
    between it and ``items[0]`` are gone.
    """

    items: list[ChatItem]
    more: bool
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class ModerationState:
    locked: bool = False
    muted_until_ms: Mapping[ParticipantId, int] = field(default_factory=dict)
    """Muted participants and when their mute ends (0: until lifted)."""


@asynccontextmanager
async def _redis_errors() -> AsyncIterator[None]:
    try:
        yield
    except RedisError as exc:
        log.warning("chat store: redis error: %s", exc)
        raise ChatError("unavailable", "chat is temporarily unavailable, retry shortly") from None


def _items(entries: Sequence[Any]) -> list[ChatItem]:
    items: list[ChatItem] = []
    for entry_id, fields in entries:
        item = item_from_entry(entry_id, fields)
        if item is not None:
            items.append(item)
    return items


class ChatStore:
    """Chat channels in Redis streams (a client created with ``decode_responses=False``)."""

    def __init__(self, redis: aioredis.Redis, *, default_retention: Retention = DEFAULT_RETENTION) -> None:
        self._redis = redis
        self._default = default_retention
        self._append = redis.register_script(_APPEND_MESSAGE)
        self._delete = redis.register_script(_DELETE_MESSAGE)
        self._lock = redis.register_script(_SET_LOCK)

    def _defaults(self) -> list[int]:
        return [self._default.max_len, self._default.max_age_ms]

    async def set_retention(self, event_id: EventId, retention: Retention) -> None:
        async with _redis_errors():
            await self._redis.hset(
                keys.retention_key(event_id),
                mapping={"max_len": retention.max_len, "max_age_ms": retention.max_age_ms},
            )

    async def retention(self, event_id: EventId) -> Retention:
        async with _redis_errors():
            raw = await self._redis.hmget(keys.retention_key(event_id), ["max_len", "max_age_ms"])
        max_len, max_age_ms = raw
        return Retention(
            max_len=int(max_len) if max_len is not None else self._default.max_len,
            max_age_ms=int(max_age_ms) if max_age_ms is not None else self._default.max_age_ms,
        )

    async def append_message(
        self, channel: Channel, sender: Grants, text: str, now_ms: int, *, client_id: str | None = None
    ) -> ChatMessage:
        """Store ``text`` from ``sender``; ``channel_locked`` or ``muted`` when moderation says no.

        ``client_id`` makes the send idempotent for ``SENT_MARKER_TTL_MS``: sending again with it
        returns the message stored the first time (with this call's text), storing nothing.
        """
        script_keys = _keys(channel, keys.moderation_key(channel))
        if client_id is not None:
            script_keys.append(keys.sent_marker_key(channel, sender.participant_id, client_id))
        async with _redis_errors():
            status, value = await self._append(
                keys=script_keys,
                args=[
                    *self._defaults(),
                    now_ms,
                    sender.participant_id,
                    "1" if sender.is_organiser else "0",
                    sender.display_name,
                    sender.role.value,
                    text,
                    SENT_MARKER_TTL_MS,
                ],
            )
        status = _str(status)
        if status == "channel_locked":
            raise ChatError("channel_locked", f"{channel.name} is read-only")
        if status == "muted":
            until_ms = int(value)
            raise ChatError(
                "muted",
                f"you are muted in {channel.name}",
                retry_after_ms=max(0, until_ms - now_ms) if until_ms else None,
            )
        return ChatMessage(
            id=MessageId(_str(value)),
            sender_id=sender.participant_id,
            sender_name=sender.display_name,
            sender_role=sender.role,
            text=text,
        )

    async def delete_message(self, channel: Channel, target: MessageId, by: ParticipantId) -> MessageDeleted:
        async with _redis_errors():
            status, value = await self._delete(
                keys=_keys(channel, keys.deleted_key(channel)),
                args=[*self._defaults(), target, by],
            )
        if _str(status) != "ok":
            raise ChatError("unknown_message_id", f"{target} is not a message of {channel.name}")
        return MessageDeleted(MessageId(_str(value)), target, by)

    async def set_locked(self, channel: Channel, locked: bool, by: ParticipantId) -> LockChanged:
        async with _redis_errors():
            _, value = await self._lock(
                keys=_keys(channel, keys.moderation_key(channel)),
                args=[*self._defaults(), "1" if locked else "0", by],
            )
        return LockChanged(MessageId(_str(value)), locked, by)

    async def mute(self, channel: Channel, participant: ParticipantId, until_ms: int) -> None:
        """Mute ``participant`` in ``channel`` until ``until_ms`` (0: until unmuted)."""
        async with _redis_errors():
            await self._redis.hset(keys.moderation_key(channel), f"mute:{participant}", str(until_ms))

    async def unmute(self, channel: Channel, participant: ParticipantId) -> None:
        async with _redis_errors():
            await self._redis.hdel(keys.moderation_key(channel), f"mute:{participant}")

    async def moderation_state(self, channel: Channel, now_ms: int) -> ModerationState:
        async with _redis_errors():
            raw: Mapping[bytes | str, bytes | str] = await self._redis.hgetall(keys.moderation_key(channel))
        muted: dict[ParticipantId, int] = {}
        locked = False
        for name, value in raw.items():
            field_name, text = _str(name), _str(value)
            if field_name == "locked":
                locked = text == "1"
            elif field_name.startswith("mute:"):
                until_ms = int(text)
                if until_ms == 0 or until_ms > now_ms:
                    muted[ParticipantId(field_name.removeprefix("mute:"))] = until_ms
        return ModerationState(locked=locked, muted_until_ms=muted)

    async def last_id(self, channel: Channel) -> MessageId:
        """The id of the newest entry (any kind) of the channel, ``0-0`` when there is none."""
        async with _redis_errors():
            newest: Sequence[Any] = await self._redis.xrevrange(keys.stream_key(channel), count=1) or []
        return MessageId(_str(newest[0][0])) if newest else NO_ID

    async def history(self, channel: Channel, before: MessageId | None, limit: int) -> HistoryPage:
        """The ``limit`` newest messages older than ``before`` (the newest overall when ``None``)."""
        limit = max(1, min(limit, MAX_PAGE))
        wanted = limit + 1
        found: list[ChatMessage] = []
        upper = f"({before}" if before is not None else "+"
        stream = keys.stream_key(channel)
        async with _redis_errors():
            while len(found) < wanted:
                count = (wanted - len(found)) * 2
                reply = await self._redis.xrevrange(stream, max=upper, min="-", count=count)
                entries: Sequence[Any] = reply or []
                for item in _items(entries):
                    if isinstance(item, ChatMessage):
                        found.append(item)
                if len(entries) < count:
                    break
                upper = f"({_str(entries[-1][0])}"
        page = found[:limit]
        page.reverse()
        return HistoryPage(messages=page, more=len(found) > limit)

    async def read_after(self, channel: Channel, after: MessageId, limit: int) -> ReplayPage:
        """Every item newer than ``after``: the replay of a reconnecting client.

        ``after`` must be an id of this channel: present, deleted by moderation, or older than
        everything retention kept (then ``truncated``). Anything else is ``unknown_message_id``.
        """
        limit = max(1, min(limit, MAX_PAGE))
        stream = keys.stream_key(channel)
        async with _redis_errors(), self._redis.pipeline(transaction=False) as pipe:
            pipe.xrange(stream, min=after, max=after, count=1)
            pipe.sismember(keys.deleted_key(channel), after)
            pipe.xrange(stream, count=1)
            pipe.xrange(stream, min=f"({after}", max="+", count=limit + 1)
            exact, deleted, first, entries = await pipe.execute()
        truncated = False
        if not exact and not deleted:
            if not first or id_key(after) >= id_key(MessageId(_str(first[0][0]))):
                raise ChatError("unknown_message_id", f"{after} is not a message of {channel.name}")
            truncated = True
        return ReplayPage(items=_items(entries[:limit]), more=len(entries) > limit, truncated=truncated)
