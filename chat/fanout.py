"""Fan-out: tail the streams of channels with local members and hand encoded batches to a sink.

The Redis stream is the source of truth. Each instance reads the streams of the channels its
own clients are in (one blocking ``XREAD`` per event, so every read stays in one hash slot) and
remembers, per channel, the id of the last entry it read. When the read fails or stalls, the
listener is marked down (``venuekit_chat_listener_up`` = 0) and the next read resumes from
those ids, so what was written meanwhile is delivered late, never lost.

Items are coalesced per channel over ``window_ms``, encoded once per batch and handed with the
channel's recipient set to :class:`BatchSink`. Nothing here does work per recipient: the set is
rebuilt only when membership changed since the channel's previous batch.

A channel tail starts at the event's newest id at the time of the first local ``subscribe``, so
a client that subscribes and then reads its replay (``ChatStore.read_after``) misses nothing:
whatever the replay did not return is newer than that id and is delivered by the tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chat import keys, metrics
from chat.channels import Channel
from chat.coalescer import Coalescer
from chat.errors import ChatError
from chat.ids import EventId, InstanceId, MessageId, RecipientId
from chat.model import ChatItem, ChatMessage, encode_batch, item_from_entry
from chat.validation import id_key, id_ms

log = logging.getLogger(__name__)

NO_ID = MessageId("0-0")
WAKE_TTL_MS = 60_000


class BatchSink(Protocol):
    """Where batches go: the transport (Socket.IO rooms in signalling; a list in tests)."""

    async def deliver(self, channel: Channel, batch: bytes, recipients: frozenset[RecipientId]) -> None:
        """Send ``batch`` (one encoded ``{"channel", "items"}`` object) to ``recipients``."""


@dataclass(frozen=True, slots=True)
class FanoutConfig:
    window_ms: int = 100
    max_batch_items: int = 200
    block_ms: int = 2_000
    read_count: int = 1_000
    stall_grace_ms: int = 5_000
    """A read that has not answered ``block_ms + stall_grace_ms`` after it was sent is dead."""
    retry_initial_ms: int = 50
    retry_max_ms: int = 2_000
    max_pending_items: int = 50_000
    """Reading pauses while this many items wait for a slow sink (memory stays bounded)."""


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(slots=True)
class _Tail:
    channel: Channel
    key: str
    cursor: MessageId
    members: set[RecipientId] = field(default_factory=set)
    snapshot: frozenset[RecipientId] | None = None

    def recipients(self) -> frozenset[RecipientId]:
        if self.snapshot is None:
            self.snapshot = frozenset(self.members)
        return self.snapshot


@dataclass(slots=True)
class _Group:
    """The tails of one event, read by one task."""

    event_id: EventId
    wake_key: str
    wake_cursor: MessageId = NO_ID
    tails: dict[str, _Tail] = field(default_factory=dict)
    up: bool = True
    closed: bool = False
    task: asyncio.Task[None] | None = None

    def is_closed(self) -> bool:
        return self.closed


class FanoutEngine:
    """Owns the tail tasks and the flusher; ``start`` before use, ``stop`` to end them all."""

    def __init__(
        self,
        redis: aioredis.Redis,
        sink: BatchSink,
        *,
        instance_id: InstanceId | None = None,
        config: FanoutConfig | None = None,
    ) -> None:
        self._redis = redis
        self._sink = sink
        self.instance_id = instance_id or InstanceId(uuid.uuid4().hex[:12])
        self.config = config or FanoutConfig()
        self._groups: dict[EventId, _Group] = {}
        self._tails: dict[str, _Tail] = {}
        self._by_recipient: dict[RecipientId, set[str]] = {}
        self._coalescer: Coalescer[str, ChatItem] = Coalescer(
            window_ms=self.config.window_ms, max_items=self.config.max_batch_items
        )
        self._pending = asyncio.Event()
        self._drained = asyncio.Event()
        self._new_tail_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._listener_up = metrics.LISTENER_UP.labels(instance=self.instance_id)
        self._listener_failures = metrics.LISTENER_FAILURES.labels(instance=self.instance_id)
        self._tailed = metrics.TAILED_CHANNELS.labels(instance=self.instance_id)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._flusher is None:
            self._listener_up.set(1)
            self._flusher = asyncio.create_task(self._run_flusher(), name=f"chat-flusher-{self.instance_id}")

    async def stop(self) -> None:
        """End every task; batches still open are delivered first."""
        for group in self._groups.values():
            group.closed = True
        tasks = [g.task for g in self._groups.values() if g.task is not None]
        tasks.extend(self._retiring)
        await _end_tasks(tasks)
        self._groups.clear()
        if self._flusher is not None:
            await _end_tasks([self._flusher])
            self._flusher = None
        for key, items in self._coalescer.take_due(2**62):
            await self._deliver(key, items)
        self._tails.clear()
        self._by_recipient.clear()
        self._tailed.set(0)

    @property
    def listener_up(self) -> bool:
        """False while a tail of this instance cannot read from Redis."""
        return all(group.up for group in self._groups.values())

    # -- membership --------------------------------------------------------------------------

    async def subscribe(self, channel: Channel, recipient: RecipientId) -> None:
        """Deliver every item of ``channel`` newer than now to ``recipient`` from now on."""
        if self._flusher is None:
            raise RuntimeError("FanoutEngine.start() first")
        key = keys.stream_key(channel)
        tail = self._tails.get(key)
        if tail is None:
            async with self._new_tail_lock:
                tail = self._tails.get(key)
                if tail is None:
                    tail = await self._open_tail(channel, key)
        tail.members.add(recipient)
        tail.snapshot = None
        self._by_recipient.setdefault(recipient, set()).add(key)

    def unsubscribe(self, channel: Channel, recipient: RecipientId) -> None:
        self._remove(keys.stream_key(channel), recipient)

    def unsubscribe_all(self, recipient: RecipientId) -> None:
        """Forget a disconnected client everywhere."""
        for key in list(self._by_recipient.get(recipient, ())):
            self._remove(key, recipient)

    def is_subscribed(self, channel: Channel, recipient: RecipientId) -> bool:
        tail = self._tails.get(keys.stream_key(channel))
        return tail is not None and recipient in tail.members

    def pending_items(self) -> int:
        """Items read from Redis and not yet handed to the sink."""
        return len(self._coalescer)

    def recipients(self, channel: Channel) -> frozenset[RecipientId]:
        tail = self._tails.get(keys.stream_key(channel))
        return tail.recipients() if tail is not None else frozenset()

    async def _open_tail(self, channel: Channel, key: str) -> _Tail:
        try:
            last = await self._redis.get(keys.sequence_key(channel.event_id))
        except RedisError as exc:
            raise ChatError("unavailable", "chat is temporarily unavailable, retry shortly") from exc
        tail = _Tail(channel, key, MessageId(_text(last)) if last is not None else NO_ID)
        group = self._groups.get(channel.event_id)
        if group is None:
            group = _Group(channel.event_id, keys.wake_key(channel.event_id, self.instance_id))
            self._groups[channel.event_id] = group
            group.task = asyncio.create_task(
                self._run_group(group), name=f"chat-tail-{channel.event_id}-{self.instance_id}"
            )
        group.tails[key] = tail
        self._tails[key] = tail
        self._tailed.set(len(self._tails))
        await self._wake(group)
        return tail

    def _remove(self, key: str, recipient: RecipientId) -> None:
        keys_of_recipient = self._by_recipient.get(recipient)
        if keys_of_recipient is not None:
            keys_of_recipient.discard(key)
            if not keys_of_recipient:
                del self._by_recipient[recipient]
        tail = self._tails.get(key)
        if tail is None or recipient not in tail.members:
            return
        tail.members.discard(recipient)
        tail.snapshot = None
        if tail.members:
            return
        del self._tails[key]
        self._coalescer.discard(key)
        self._drained.set()
        self._tailed.set(len(self._tails))
        group = self._groups[tail.channel.event_id]
        del group.tails[key]
        if not group.tails:
            del self._groups[group.event_id]
            group.closed = True
            if group.task is not None:
                group.task.cancel()
                self._retiring.add(group.task)
                group.task.add_done_callback(self._retiring.discard)
            self._update_health()

    async def _wake(self, group: _Group) -> None:
        """Make the group's blocked read return so that it picks up a new channel at once."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(group.wake_key, {"w": "1"}, maxlen=1, approximate=False)
                pipe.pexpire(group.wake_key, WAKE_TTL_MS)
                await pipe.execute()
        except RedisError as exc:
            log.warning("chat fan-out: could not wake the %s tail: %s", group.event_id, exc)

    # -- reading -----------------------------------------------------------------------------

    async def _run_group(self, group: _Group) -> None:
        retry_ms = self.config.retry_initial_ms
        read_timeout_s = (self.config.block_ms + self.config.stall_grace_ms) / 1000
        while not group.is_closed():
            while len(self._coalescer) >= self.config.max_pending_items:
                self._drained.clear()
                await self._drained.wait()
            streams: dict[str, str] = {group.wake_key: group.wake_cursor}
            for tail in group.tails.values():
                streams[tail.key] = tail.cursor
            try:
                async with asyncio.timeout(read_timeout_s):
                    reply = await self._redis.xread(
                        streams,  # type: ignore[arg-type]
                        count=self.config.read_count,
                        block=self.config.block_ms,
                    )
            except Exception as exc:  # any failed read: report it, back off, resume by id
                self._listener_failures.inc()
                if group.up:
                    log.warning("chat fan-out: tail of %s is down (%r); resuming by id", group.event_id, exc)
                group.up = False
                self._update_health()
                await asyncio.sleep(retry_ms / 1000)
                retry_ms = min(retry_ms * 2, self.config.retry_max_ms)
                continue
            if group.is_closed():
                return
            retry_ms = self.config.retry_initial_ms
            if not group.up:
                group.up = True
                log.info("chat fan-out: tail of %s is reading again", group.event_id)
                self._update_health()
            self._absorb(group, reply)

    def _absorb(self, group: _Group, reply: Any) -> None:
        if not reply:
            return
        # RESP2: [[key, entries], ...]; RESP3: {key: [entries]}.
        resp3 = isinstance(reply, Mapping)
        pairs: Sequence[Any] = list(reply.items()) if resp3 else reply
        now_ms = _monotonic_ms()
        added = False
        for raw_key, raw_entries in pairs:
            key = _text(raw_key)
            entries: Sequence[Any] = raw_entries[0] if resp3 and raw_entries else raw_entries
            if not entries:
                continue
            if key == group.wake_key:
                group.wake_cursor = MessageId(_text(entries[-1][0]))
                continue
            tail = group.tails.get(key)
            if tail is None:
                continue
            cursor_key = id_key(tail.cursor)
            items: list[ChatItem] = []
            for entry_id, fields in entries:
                message_id = MessageId(_text(entry_id))
                if id_key(message_id) <= cursor_key:
                    continue
                tail.cursor = message_id
                item = item_from_entry(message_id, fields)
                if item is not None:
                    items.append(item)
            if items:
                self._coalescer.add(key, items, now_ms)
                added = True
        if added:
            self._pending.set()

    def _update_health(self) -> None:
        self._listener_up.set(1 if self.listener_up else 0)

    # -- delivering --------------------------------------------------------------------------

    async def _run_flusher(self) -> None:
        while True:
            due_ms = self._coalescer.next_due_ms()
            if due_ms is None:
                self._pending.clear()
                await self._pending.wait()
                continue
            now_ms = _monotonic_ms()
            if due_ms > now_ms:
                self._pending.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout((due_ms - now_ms) / 1000):
                        await self._pending.wait()
                continue
            for key, items in self._coalescer.take_due(now_ms):
                await self._deliver(key, items)
            self._drained.set()

    async def _deliver(self, key: str, items: list[ChatItem]) -> None:
        tail = self._tails.get(key)
        if tail is None or not tail.members:
            return
        kind = tail.channel.kind.value
        recipients = tail.recipients()
        batch = encode_batch(tail.channel.name, items)
        try:
            await self._sink.deliver(tail.channel, batch, recipients)
        except Exception:
            metrics.SINK_ERRORS.labels(kind=kind).inc()
            log.exception("chat fan-out: the sink failed a batch of %s", tail.channel.name)
            return
        now_ms = time.time_ns() // 1_000_000
        for item in items:
            if isinstance(item, ChatMessage):
                metrics.FANOUT_LATENCY.observe(max(0, now_ms - id_ms(item.id)) / 1000)
        metrics.DELIVERY_BATCHES.labels(kind=kind).inc()
        metrics.BATCH_BYTES.observe(len(batch))
        metrics.MESSAGES_OUT.labels(kind=kind).inc(len(items))
        metrics.RECIPIENT_DELIVERIES.labels(kind=kind).inc(len(items) * len(recipients))


async def _end_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait for them to end.

    Cancelling again while any is left: redis-py can swallow a cancellation that arrives just as
    a blocking read completes (measured: the read returns normally with the cancel pending).
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("chat fan-out: task %s ended with %r", task.get_name(), task.exception())
