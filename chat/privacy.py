"""Personal data in chat: a participant's messages for an access export, their removal on
erasure, and the per-organisation age limit the retention job applies.

Erasure removes every message the participants wrote, in every channel of the event, through
the same script as a moderator's deletion (:meth:`chat.store.ChatStore.delete_message`): the
entry goes, its id joins the channel's deleted set, and a tombstone by ``erasure`` tells live
and replaying clients to drop it from their timelines. Tombstones and lock changes the
participant made as a moderator are removed too, as are their mutes, their idempotent-send
markers and their direct-message channels (named after both participant ids; docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

import redis.asyncio as aioredis

from chat import keys
from chat.channels import Channel, ChannelKind, parse_channel
from chat.errors import ChatError
from chat.ids import EventId, MessageId, ParticipantId
from chat.store import ChatStore
from chat.validation import id_ms

PAGE: Final = 1000
ERASURE_ACTOR: Final = ParticipantId("erasure")


def _str(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class ChatPersonalData:
    """The chat part of access, erasure and retention (a ``PersonalDataHolder`` of the API)."""

    section: Final = "chat_messages"

    def __init__(self, redis: aioredis.Redis, store: ChatStore | None = None) -> None:
        self._redis = redis
        self._store = store or ChatStore(redis)

    async def channels(self, event_id: str) -> list[Channel]:
        """Every channel of the event that has a stream."""
        prefix = keys.stream_key(Channel(EventId(event_id), ChannelKind.EVENT, ""))
        found = []
        async for raw in self._redis.scan_iter(match=_glob(prefix) + "*", count=1000):
            name = _str(raw)[len(prefix) :]
            try:
                found.append(parse_channel(EventId(event_id), name))
            except ChatError:
                continue  # not a channel stream of ours
        return sorted(found, key=lambda c: c.name)

    async def _entries(self, channel: Channel) -> AsyncIterator[tuple[str, dict[str, str]]]:
        start = "-"
        stream = keys.stream_key(channel)
        while True:
            page: Any = await self._redis.xrange(stream, min=start, count=PAGE)
            for entry_id, fields in page:
                yield _str(entry_id), {_str(k): _str(v) for k, v in fields.items()}
            if len(page) < PAGE:
                return
            start = "(" + _str(page[-1][0])

    async def export(self, event_id: str, participant_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every message these participants wrote in the event, channel by channel, oldest first."""
        wanted = set(participant_ids)
        found: list[dict[str, Any]] = []
        for channel in await self.channels(event_id):
            # a direct channel is named after both people: the other one's id is not theirs to get
            shown = "dm" if channel.kind is ChannelKind.DM else channel.name
            async for entry_id, fields in self._entries(channel):
                if fields.get("k") == "m" and fields.get("s") in wanted:
                    found.append(
                        {
                            "channel": shown,
                            "id": entry_id,
                            "ts_ms": id_ms(MessageId(entry_id)),
                            "participant_id": fields["s"],
                            "name": fields.get("n", ""),
                            "text": fields.get("t", ""),
                        }
                    )
        return found

    async def erase(self, event_id: str, renames: Mapping[str, str]) -> int:
        """Remove what the participants of ``renames`` left in the event's chat; idempotent."""
        wanted = set(renames)
        removed = 0
        for channel in await self.channels(event_id):
            if channel.kind is ChannelKind.DM and wanted & set(channel.members):
                removed += await self._redis.delete(
                    keys.stream_key(channel), keys.moderation_key(channel), keys.deleted_key(channel)
                )
                continue
            messages: list[str] = []
            authored: list[str] = []
            async for entry_id, fields in self._entries(channel):
                kind = fields.get("k")
                if kind == "m" and fields.get("s") in wanted:
                    messages.append(entry_id)
                elif kind in ("d", "l") and fields.get("b") in wanted:
                    authored.append(entry_id)
            for message_id in messages:
                try:
                    await self._store.delete_message(channel, MessageId(message_id), ERASURE_ACTOR)
                    removed += 1
                except ChatError as exc:
                    if exc.code != "unknown_message_id":  # trimmed meanwhile: nothing to remove
                        raise
            if authored:
                removed += await self._redis.xdel(keys.stream_key(channel), *authored)
            mutes = [f"mute:{pid}" for pid in wanted]
            removed += await self._redis.hdel(keys.moderation_key(channel), *mutes)
        removed += await self._delete_sent_markers(event_id, wanted)
        return removed

    async def _delete_sent_markers(self, event_id: str, participants: set[str]) -> int:
        pattern = _glob(f"vk:chat:{{{event_id}}}:sent:") + "*"
        doomed = []
        async for raw in self._redis.scan_iter(match=pattern, count=1000):
            parts = _str(raw).split(":")
            if len(parts) >= 3 and parts[-2] in participants:
                doomed.append(raw)
        return int(await self._redis.delete(*doomed)) if doomed else 0

    async def expire_before(self, event_id: str, cutoff_ms: int) -> int:
        """Drop every chat entry of the event older than ``cutoff_ms``; returns how many.

        ``XTRIM MINID`` is idempotent, so several instances running it at once remove each
        entry once; a channel left empty is deleted with its deleted-ids set.
        """
        removed = 0
        for channel in await self.channels(event_id):
            stream = keys.stream_key(channel)
            removed += int(await self._redis.xtrim(stream, minid=str(max(0, cutoff_ms)), approximate=False))
            stale = [
                m
                for m in await self._redis.smembers(keys.deleted_key(channel))
                if id_ms(MessageId(_str(m))) < cutoff_ms
            ]
            if stale:
                await self._redis.srem(keys.deleted_key(channel), *stale)
            if await self._redis.xlen(stream) == 0:
                await self._redis.delete(stream, keys.deleted_key(channel))
        return removed


def _glob(literal: str) -> str:
    """``literal`` with the glob characters of SCAN MATCH escaped (event ids carry braces)."""
    return "".join("\\" + c if c in "*?[]\\{}" else c for c in literal)
