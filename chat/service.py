"""The chat runtime a transport calls: request in, result or ``ChatError`` out.

It applies the pure rules (request shape, permissions, content, rate limit) and then does the
I/O (store, fan-out). Signalling maps its Socket.IO events onto these methods, one each, and
emits ``ChatError.to_wire()`` on refusal. Every refusal is counted by code and stores nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from chat import metrics
from chat.channels import Channel, parse_channel
from chat.errors import ChatError
from chat.grants import Grants
from chat.ids import MessageId, ParticipantId, RecipientId
from chat.model import ChatItem, ChatMessage, LockChanged, MessageDeleted
from chat.permissions import Action, check
from chat.ratelimit import RateLimiter, RatePolicy
from chat.requests import (
    MAX_MUTE_MS,
    PageLimits,
    bool_field,
    fields,
    int_field,
    optional_client_id,
    optional_id,
    participant,
)
from chat.store import HistoryPage, ModerationState, ReplayPage
from chat.validation import TextLimits, parse_message_id, validate_text


class Subscriptions(Protocol):
    """Who receives a channel's live items on this instance (``FanoutEngine`` in production)."""

    async def subscribe(self, channel: Channel, recipient: RecipientId) -> None: ...

    def unsubscribe(self, channel: Channel, recipient: RecipientId) -> None: ...

    def unsubscribe_all(self, recipient: RecipientId) -> None: ...

    def is_subscribed(self, channel: Channel, recipient: RecipientId) -> bool: ...


class MessageStore(Protocol):
    """Chat persistence: ``ChatStore`` (Redis streams) or its twin ``MemoryChatStore``."""

    async def append_message(
        self, channel: Channel, sender: Grants, text: str, now_ms: int, *, client_id: str | None = None
    ) -> ChatMessage: ...

    async def delete_message(
        self, channel: Channel, target: MessageId, by: ParticipantId
    ) -> MessageDeleted: ...

    async def set_locked(self, channel: Channel, locked: bool, by: ParticipantId) -> LockChanged: ...

    async def mute(self, channel: Channel, participant: ParticipantId, until_ms: int) -> None: ...

    async def unmute(self, channel: Channel, participant: ParticipantId) -> None: ...

    async def moderation_state(self, channel: Channel, now_ms: int) -> ModerationState: ...

    async def history(self, channel: Channel, before: MessageId | None, limit: int) -> HistoryPage: ...

    async def read_after(self, channel: Channel, after: MessageId, limit: int) -> ReplayPage: ...


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class JoinResult:
    """What a client gets on joining: the newest messages, or everything after its last id."""

    channel: str
    mode: Literal["history", "replay"]
    items: list[ChatItem]
    more: bool
    locked: bool
    truncated: bool = False

    def to_wire(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "mode": self.mode,
            "items": [item.to_wire() for item in self.items],
            "more": self.more,
            "locked": self.locked,
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class Page:
    channel: str
    items: list[ChatItem]
    more: bool
    truncated: bool = False

    def to_wire(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "items": [item.to_wire() for item in self.items],
            "more": self.more,
            "truncated": self.truncated,
        }


_SEND = frozenset({"channel", "text"})
_CHANNEL = frozenset({"channel"})


class ChatService:
    def __init__(
        self,
        store: MessageStore,
        fanout: Subscriptions,
        *,
        rate: RatePolicy | None = None,
        text_limits: TextLimits | None = None,
        page_limits: PageLimits | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._store = store
        self._fanout = fanout
        self._limiter = RateLimiter(rate or RatePolicy())
        self._text_limits = text_limits or TextLimits()
        self._pages = page_limits or PageLimits()
        self._clock_ms = clock_ms

    @staticmethod
    def _refused(error: ChatError) -> ChatError:
        metrics.REJECTED.labels(code=error.code).inc()
        return error

    def _channel(self, grants: Grants, raw: object, action: Action) -> Channel:
        channel = parse_channel(grants.event_id, raw)
        check(grants, channel, action)
        return channel

    async def send(self, grants: Grants, payload: object) -> ChatMessage:
        """Store a message from ``grants``' participant (identity never read from the payload).

        A client that did not get an answer sends again with the same ``client_id``; the message
        is stored once.
        """
        try:
            request = fields(payload, _SEND, frozenset({"client_id"}))
            channel = self._channel(grants, request["channel"], Action.WRITE)
            text = validate_text(request["text"], self._text_limits)
            client_id = optional_client_id(request.get("client_id"))
            now_ms = self._clock_ms()
            decision = self._limiter.take((grants.event_id, grants.participant_id), now_ms)
            if not decision.allowed:
                metrics.RATE_LIMITED.labels(kind=channel.kind.value).inc()
                raise ChatError(
                    "rate_limited",
                    f"too many messages; retry in {decision.retry_after_ms} ms",
                    retry_after_ms=decision.retry_after_ms,
                )
            message = await self._store.append_message(channel, grants, text, now_ms, client_id=client_id)
        except ChatError as error:
            raise self._refused(error) from None
        metrics.MESSAGES_IN.labels(kind=channel.kind.value).inc()
        return message

    async def join(
        self,
        grants: Grants,
        recipient: RecipientId,
        payload: object,
        *,
        on_subscribed: Callable[[Channel], Awaitable[None]] | None = None,
    ) -> JoinResult:
        """Subscribe ``recipient`` to the channel, then read: subscribe-before-read is what makes
        the replay gapless (anything newer than the read reaches the client live).

        ``on_subscribed`` runs after the permission check and the subscription, before the read:
        a transport that delivers batches to its own rooms must put the socket in the room there,
        or a batch emitted between the read and a later room entry would miss it.
        """
        try:
            request = fields(payload, _CHANNEL, frozenset({"last_id", "limit"}))
            channel = self._channel(grants, request["channel"], Action.READ)
            last_id = optional_id(request.get("last_id"))
            limit = self._pages.pick(request.get("limit"))
            already_subscribed = self._fanout.is_subscribed(channel, recipient)
            await self._fanout.subscribe(channel, recipient)
            try:
                if on_subscribed is not None:
                    await on_subscribed(channel)
                state = await self._store.moderation_state(channel, self._clock_ms())
                if last_id is None:
                    history = await self._store.history(channel, None, limit)
                    return JoinResult(
                        channel.name, "history", list(history.messages), history.more, state.locked
                    )
                replay = await self._store.read_after(channel, last_id, limit)
            except ChatError:
                if not already_subscribed:
                    self._fanout.unsubscribe(channel, recipient)
                raise
        except ChatError as error:
            raise self._refused(error) from None
        return JoinResult(channel.name, "replay", replay.items, replay.more, state.locked, replay.truncated)

    def leave(self, grants: Grants, recipient: RecipientId, payload: object) -> None:
        try:
            request = fields(payload, _CHANNEL)
            channel = parse_channel(grants.event_id, request["channel"])
        except ChatError as error:
            raise self._refused(error) from None
        self._fanout.unsubscribe(channel, recipient)

    def disconnected(self, recipient: RecipientId) -> None:
        self._fanout.unsubscribe_all(recipient)

    async def history(self, grants: Grants, payload: object) -> Page:
        """An older page: the messages before ``before`` (the newest when absent)."""
        try:
            request = fields(payload, _CHANNEL, frozenset({"before", "limit"}))
            channel = self._channel(grants, request["channel"], Action.READ)
            before = optional_id(request.get("before"))
            page = await self._store.history(channel, before, self._pages.pick(request.get("limit")))
        except ChatError as error:
            raise self._refused(error) from None
        return Page(channel.name, list(page.messages), page.more)

    async def replay(self, grants: Grants, payload: object) -> Page:
        """The next page after ``after``: how a client continues a replay that had ``more``."""
        try:
            request = fields(payload, frozenset({"channel", "after"}), frozenset({"limit"}))
            channel = self._channel(grants, request["channel"], Action.READ)
            after = parse_message_id(request["after"])
            page = await self._store.read_after(channel, after, self._pages.pick(request.get("limit")))
        except ChatError as error:
            raise self._refused(error) from None
        return Page(channel.name, page.items, page.more, page.truncated)

    async def delete(self, grants: Grants, payload: object) -> MessageDeleted:
        try:
            request = fields(payload, frozenset({"channel", "id"}))
            channel = self._channel(grants, request["channel"], Action.MODERATE)
            target = parse_message_id(request["id"])
            return await self._store.delete_message(channel, target, grants.participant_id)
        except ChatError as error:
            raise self._refused(error) from None

    async def lock(self, grants: Grants, payload: object) -> LockChanged:
        try:
            request = fields(payload, frozenset({"channel", "locked"}))
            channel = self._channel(grants, request["channel"], Action.MODERATE)
            locked = bool_field(request["locked"], "locked")
            return await self._store.set_locked(channel, locked, grants.participant_id)
        except ChatError as error:
            raise self._refused(error) from None

    async def mute(self, grants: Grants, payload: object) -> int:
        """Mute a participant in a channel; returns when the mute ends (0: until unmuted)."""
        try:
            request = fields(payload, frozenset({"channel", "participant"}), frozenset({"duration_ms"}))
            channel = self._channel(grants, request["channel"], Action.MODERATE)
            target: ParticipantId = participant(request["participant"])
            duration = request.get("duration_ms")
            until_ms = (
                0
                if duration is None
                else self._clock_ms() + int_field(duration, "duration_ms", low=1, high=MAX_MUTE_MS)
            )
            await self._store.mute(channel, target, until_ms)
        except ChatError as error:
            raise self._refused(error) from None
        return until_ms

    async def unmute(self, grants: Grants, payload: object) -> None:
        try:
            request = fields(payload, frozenset({"channel", "participant"}))
            channel = self._channel(grants, request["channel"], Action.MODERATE)
            await self._store.unmute(channel, participant(request["participant"]))
        except ChatError as error:
            raise self._refused(error) from None
