"""The in-memory twin of :class:`chat.store.ChatStore`: same behaviour, no Redis, one process.

For unit tests of code above chat (signalling, the service) and for a single-process demo. The
contract tests in ``tests/chat/test_store_contract.py`` run the same cases against both twins.
Differences: ids come from the caller's ``now_ms`` instead of Redis ``TIME``; ``MAXLEN``
trimming is exact; an idle channel is not expired as a whole (age trimming happens on append).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chat.channels import Channel
from chat.errors import ChatError
from chat.grants import Grants
from chat.ids import EventId, MessageId, ParticipantId
from chat.model import ChatItem, ChatMessage, LockChanged, MessageDeleted
from chat.retention import DEFAULT_RETENTION, Retention
from chat.store import MAX_PAGE, NO_ID, SENT_MARKER_TTL_MS, HistoryPage, ModerationState, ReplayPage
from chat.validation import id_key

_Key = tuple[int, int]


@dataclass
class _Stream:
    keys: list[_Key] = field(default_factory=list)
    items: dict[_Key, ChatItem] = field(default_factory=dict)
    deleted: set[_Key] = field(default_factory=set)
    locked: bool = False
    muted_until_ms: dict[ParticipantId, int] = field(default_factory=dict)


class MemoryChatStore:
    def __init__(
        self,
        *,
        default_retention: Retention = DEFAULT_RETENTION,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._default = default_retention
        self._clock_ms = clock_ms
        self._retention: dict[EventId, Retention] = {}
        self._last: dict[EventId, _Key] = {}
        self._streams: dict[tuple[EventId, str], _Stream] = {}
        self._sent: dict[tuple[EventId, str, ParticipantId, str], tuple[MessageId, int]] = {}

    def _stream(self, channel: Channel) -> _Stream:
        return self._streams.setdefault((channel.event_id, channel.name), _Stream())

    def _append(self, channel: Channel, now_ms: int) -> tuple[_Stream, MessageId, _Key]:
        last_ms, last_seq = self._last.get(channel.event_id, (0, 0))
        key = (now_ms, 0) if now_ms > last_ms else (last_ms, last_seq + 1)
        self._last[channel.event_id] = key
        return self._stream(channel), MessageId(f"{key[0]}-{key[1]}"), key

    def _store(self, channel: Channel, stream: _Stream, key: _Key, item: ChatItem) -> None:
        stream.keys.append(key)
        stream.items[key] = item
        retention = self._retention.get(channel.event_id, self._default)
        if retention.max_len and len(stream.keys) > retention.max_len:
            for old in stream.keys[: len(stream.keys) - retention.max_len]:
                del stream.items[old]
            del stream.keys[: len(stream.keys) - retention.max_len]
        if retention.max_age_ms:
            cut = bisect.bisect_left(stream.keys, (key[0] - retention.max_age_ms, 0))
            for old in stream.keys[:cut]:
                del stream.items[old]
            del stream.keys[:cut]

    async def set_retention(self, event_id: EventId, retention: Retention) -> None:
        self._retention[event_id] = retention

    async def retention(self, event_id: EventId) -> Retention:
        return self._retention.get(event_id, self._default)

    async def append_message(
        self, channel: Channel, sender: Grants, text: str, now_ms: int, *, client_id: str | None = None
    ) -> ChatMessage:
        marker = (channel.event_id, channel.name, sender.participant_id, client_id or "")
        if client_id is not None:
            earlier = self._sent.get(marker)
            if earlier is not None and earlier[1] > now_ms:
                return ChatMessage(earlier[0], sender.participant_id, sender.display_name, sender.role, text)
        stream = self._stream(channel)
        if not sender.is_organiser:
            if stream.locked:
                raise ChatError("channel_locked", f"{channel.name} is read-only")
            until_ms = stream.muted_until_ms.get(sender.participant_id)
            if until_ms is not None and (until_ms == 0 or until_ms > now_ms):
                raise ChatError(
                    "muted",
                    f"you are muted in {channel.name}",
                    retry_after_ms=until_ms - now_ms if until_ms else None,
                )
        stream, message_id, key = self._append(channel, now_ms)
        message = ChatMessage(message_id, sender.participant_id, sender.display_name, sender.role, text)
        self._store(channel, stream, key, message)
        if client_id is not None:
            self._sent[marker] = (message_id, now_ms + SENT_MARKER_TTL_MS)
        return message

    async def delete_message(self, channel: Channel, target: MessageId, by: ParticipantId) -> MessageDeleted:
        stream = self._stream(channel)
        target_key = id_key(target)
        if not isinstance(stream.items.get(target_key), ChatMessage):
            raise ChatError("unknown_message_id", f"{target} is not a message of {channel.name}")
        del stream.items[target_key]
        stream.keys.remove(target_key)
        stream.deleted.add(target_key)
        stream, message_id, key = self._append(channel, self._clock_ms())
        tombstone = MessageDeleted(message_id, target, by)
        self._store(channel, stream, key, tombstone)
        return tombstone

    async def set_locked(self, channel: Channel, locked: bool, by: ParticipantId) -> LockChanged:
        stream, message_id, key = self._append(channel, self._clock_ms())
        stream.locked = locked
        change = LockChanged(message_id, locked, by)
        self._store(channel, stream, key, change)
        return change

    async def mute(self, channel: Channel, participant: ParticipantId, until_ms: int) -> None:
        self._stream(channel).muted_until_ms[participant] = until_ms

    async def unmute(self, channel: Channel, participant: ParticipantId) -> None:
        self._stream(channel).muted_until_ms.pop(participant, None)

    async def moderation_state(self, channel: Channel, now_ms: int) -> ModerationState:
        stream = self._stream(channel)
        muted = {p: u for p, u in stream.muted_until_ms.items() if u == 0 or u > now_ms}
        return ModerationState(locked=stream.locked, muted_until_ms=muted)

    async def last_id(self, channel: Channel) -> MessageId:
        keys = self._stream(channel).keys
        return MessageId(f"{keys[-1][0]}-{keys[-1][1]}") if keys else NO_ID

    async def history(self, channel: Channel, before: MessageId | None, limit: int) -> HistoryPage:
        limit = max(1, min(limit, MAX_PAGE))
        stream = self._stream(channel)
        end = len(stream.keys) if before is None else bisect.bisect_left(stream.keys, id_key(before))
        found: list[ChatMessage] = []
        for key in reversed(stream.keys[:end]):
            item = stream.items[key]
            if isinstance(item, ChatMessage):
                found.append(item)
                if len(found) > limit:
                    break
        page = found[:limit]
        page.reverse()
        return HistoryPage(messages=page, more=len(found) > limit)

    async def read_after(self, channel: Channel, after: MessageId, limit: int) -> ReplayPage:
        limit = max(1, min(limit, MAX_PAGE))
        stream = self._stream(channel)
        after_key = id_key(after)
        truncated = False
        if after_key not in stream.items and after_key not in stream.deleted:
            if not stream.keys or after_key >= stream.keys[0]:
                raise ChatError("unknown_message_id", f"{after} is not a message of {channel.name}")
            truncated = True
        start = bisect.bisect_right(stream.keys, after_key)
        keys = stream.keys[start : start + limit + 1]
        items = [stream.items[key] for key in keys[:limit]]
        return ReplayPage(items=items, more=len(keys) > limit, truncated=truncated)
