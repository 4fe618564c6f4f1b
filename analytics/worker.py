"""The analytics worker: fold every event's analytics stream into live figures, shared by many.

Each stream ``vk:analytics:{<event>}`` (discovered from the registry set ``vk:analytics:events``)
is read with ``XREADGROUP`` in one consumer group, so every entry goes to one worker; an entry is
acknowledged only after its fold is persisted (:class:`~analytics.store.AnalyticsStore`). Entries a
worker read and never acknowledged (it died) are claimed by another with ``XAUTOCLAIM`` once idle
for ``claim_idle_ms``; folding them again is harmless because the fold ignores known event ids.

Run it inside ``venuekit dev``/``signal`` (the composition root starts one per process) or on
its own: ``python -m analytics.worker --redis-url redis://...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from prometheus_client import Counter, Gauge, Histogram
from redis.exceptions import ResponseError

from analytics.attendance import AnalyticsEvent
from analytics.log import REGISTRY_KEY, BadEventError, event_of, parse, stream_key
from analytics.store import AnalyticsStore

log = logging.getLogger(__name__)

GROUP: Final = "vk-analytics"
KNOWN_KINDS: Final = frozenset(
    {
        "arrive", "depart", "disconnect", "reconnect", "join", "leave", "publish", "unpublish", "mute",
        "unmute", "hand_raised", "hand_lowered", "reaction", "promote", "demote", "go_live", "backstage",
        "spotlight", "lock", "unlock", "remove", "space_ended", "event_ended", "breakouts_opened",
        "breakouts_broadcast", "breakouts_closed", "venue_changed", "chat_message", "speaking_started",
        "speaking_stopped",
    }
)  # fmt: skip

APPLIED = Counter(
    "venuekit_analytics_events_applied_total",
    "Analytics events folded for the first time (redeliveries excluded): rate of joins, leaves, ...",
    ["kind"],
)
REDELIVERED = Counter(
    "venuekit_analytics_events_redelivered_total", "Analytics events delivered again and ignored"
)
CLAIMED = Counter("venuekit_analytics_entries_claimed_total", "Pending entries claimed from idle consumers")
BAD_ENTRIES = Counter("venuekit_analytics_bad_entries_total", "Stream entries that are not analytics events")
LAG_ENTRIES = Gauge(
    "venuekit_analytics_consumer_lag_entries",
    "Analytics entries not yet folded (undelivered + pending), over every stream",
)
LAG_SECONDS = Gauge(
    "venuekit_analytics_consumer_lag_seconds", "Age of the oldest analytics entry not yet folded"
)
LIVE = Gauge(
    "venuekit_analytics_live_participants",
    "Participants online per event and space, from the analytics fold (space '_event': the whole event; "
    "every worker reports the same figure: aggregate with max)",
    ["event", "space"],
)
BATCH_SECONDS = Histogram(
    "venuekit_analytics_batch_seconds",
    "Time to fold and acknowledge one batch",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
STREAMS = Gauge("venuekit_analytics_streams", "Analytics streams this worker follows")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


@dataclass(frozen=True, slots=True)
class Lag:
    entries: int
    """Entries of the stream not yet folded (never delivered, or delivered and not acknowledged)."""
    ms: int
    """How long the oldest of them has waited (0 when there is none)."""


async def stream_lag(redis: aioredis.Redis, event_id: str, at_ms: int) -> Lag:
    """How far the consumer group is behind on ``event_id``'s stream."""
    key = stream_key(event_id)
    try:
        groups: list[dict[Any, Any]] = await redis.xinfo_groups(key)
    except ResponseError:  # no such stream yet
        return Lag(0, 0)
    group = next((g for g in groups if _text(g.get("name")) == GROUP), None)
    if group is None:
        length = int(await redis.xlen(key))
        first: Any = await redis.xrange(key, count=1) if length else []
        return Lag(length, max(0, at_ms - _id_ms(_text(first[0][0]))) if first else 0)
    pending = int(group.get("pending") or 0)
    oldest: list[int] = []
    if pending:
        summary: Any = await redis.xpending(key, GROUP)
        if summary.get("min"):
            oldest.append(_id_ms(_text(summary["min"])))
    after: Any = await redis.xrange(key, min="(" + _text(group["last-delivered-id"]), count=1)
    if after:
        oldest.append(_id_ms(_text(after[0][0])))
    undelivered = group.get("lag")
    if undelivered is None:  # unknown after deletions: count them
        rest: Any = await redis.xrange(key, min="(" + _text(group["last-delivered-id"]))
        undelivered = len(rest)
    return Lag(pending + int(undelivered), max(0, at_ms - min(oldest)) if oldest else 0)


class AnalyticsWorker:
    """One consumer of the analytics group; ``start``/``stop`` own its task."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        consumer: str | None = None,
        batch: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 15_000,
        discover_ms: int = 2000,
        lag_every_ms: int = 2000,
    ) -> None:
        self._redis = redis
        self.store = AnalyticsStore(redis)
        self.consumer = consumer or f"an-{uuid.uuid4().hex[:12]}"
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.discover_ms = discover_ms
        self.lag_every_ms = lag_every_ms
        self.streams: set[str] = set()
        self._next_discover = 0.0
        self._next_claim = 0.0
        self._next_lag = 0.0
        self._scanned = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._exported: dict[str, set[str]] = {}

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"analytics-worker-{self.consumer}")

    async def stop(self) -> None:
        self._stopping.set()  # a blocking read may turn the cancellation into a connection error
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if not await self.run_once(self.block_ms):
                    await asyncio.sleep(self.block_ms / 1000 if not self.streams else 0)
            except (OSError, aioredis.RedisError) as exc:
                if self._stopping.is_set():
                    return
                log.warning("analytics worker %s: %s; retrying", self.consumer, exc)
                await asyncio.sleep(1)
            except Exception:  # a fold bug must not stop the worker; the batch stays pending
                if self._stopping.is_set():
                    return
                log.exception("analytics worker %s failed a batch", self.consumer)
                await asyncio.sleep(1)

    async def run_once(self, block_ms: int | None = None) -> int:
        """Discover, claim what idle consumers left, read and fold one round; returns the number
        of entries folded."""
        loop_now = time.monotonic()
        if loop_now >= self._next_discover:
            await self.discover()
            self._next_discover = loop_now + self.discover_ms / 1000
        done = 0
        if loop_now >= self._next_claim:
            done += await self.claim()
            self._next_claim = loop_now + min(self.claim_idle_ms, 5000) / 2000
        if self.streams:
            reply: Any = await self._redis.xreadgroup(
                GROUP,
                self.consumer,
                dict.fromkeys(sorted(self.streams), ">"),
                count=self.batch,
                block=block_ms if block_ms else None,
            )
            for stream, entries in reply or []:
                done += await self._fold(_text(stream), entries)
        if loop_now >= self._next_lag:
            await self.export_lag()
            self._next_lag = loop_now + self.lag_every_ms / 1000
        return done

    async def discover(self) -> None:
        """Follow every stream in the registry (the first time, also streams written before it)."""
        if not self._scanned:
            async for key in self._redis.scan_iter(match="vk:analytics:{*}", count=500, _type="STREAM"):
                event = event_of(_text(key))
                if event is not None:
                    await self._redis.sadd(REGISTRY_KEY, event)
            self._scanned = True
        members: set[Any] = await self._redis.smembers(REGISTRY_KEY)
        for event in sorted(_text(m) for m in members):
            key = stream_key(event)
            if key in self.streams:
                continue
            with contextlib.suppress(ResponseError):  # BUSYGROUP: another worker made it
                await self._redis.xgroup_create(key, GROUP, id="0", mkstream=True)
            self.streams.add(key)
        STREAMS.set(len(self.streams))

    async def claim(self) -> int:
        """Take over entries other consumers read and left unacknowledged for ``claim_idle_ms``."""
        done = 0
        for key in sorted(self.streams):
            start = "0-0"
            for _ in range(1000):  # each call scans up to ``batch`` pending entries
                reply: Any = await self._redis.xautoclaim(
                    key, GROUP, self.consumer, self.claim_idle_ms, start_id=start, count=self.batch
                )
                start, entries = _text(reply[0]), reply[1]
                if entries:
                    CLAIMED.inc(len(entries))
                    done += await self._fold(key, entries)
                if start == "0-0":
                    break
        return done

    async def _fold(self, stream: str, entries: Sequence[Any]) -> int:
        event_id = event_of(stream)
        ids = [_text(entry_id) for entry_id, _ in entries]
        if event_id is None or not ids:
            return 0
        started = time.perf_counter()
        events: list[AnalyticsEvent] = []
        for entry_id, fields in entries:
            if fields is None:  # trimmed away while pending
                continue
            try:
                parsed = parse(fields)
            except BadEventError as exc:
                BAD_ENTRIES.inc()
                log.warning("analytics entry %s of %s skipped: %s", _text(entry_id), stream, exc)
                continue
            events.append(parsed)
        fresh = await self.store.apply(event_id, events, now_ms())
        await self._redis.xack(stream, GROUP, *ids)  # only now: the fold is persisted
        for event in fresh:
            APPLIED.labels(event.kind if event.kind in KNOWN_KINDS else "other").inc()
        REDELIVERED.inc(len(events) - len(fresh))
        if events:
            await self._export_live(event_id)
        BATCH_SECONDS.observe(time.perf_counter() - started)
        return len(ids)

    async def _export_live(self, event_id: str) -> None:
        counters = await self.store.counters(event_id)
        spaces = {"_event": counters.get("online:open", 0)}
        for field in counters:
            if field.startswith("space:") and field.endswith(":people"):
                space = field[len("space:") : -len(":people")]
                spaces[space] = counters.get(f"space:{space}:open", 0)
        if await self.store.ended_ms(event_id) is not None and not any(spaces.values()):
            for space in self._exported.pop(event_id, set()):  # an ended event leaves the gauge
                with contextlib.suppress(KeyError):
                    LIVE.remove(event_id, space)
            return
        for space, online in spaces.items():
            LIVE.labels(event_id, space).set(online)
        self._exported.setdefault(event_id, set()).update(spaces)

    async def export_lag(self) -> Lag:
        """Refresh the lag gauges over every followed stream; returns the total."""
        at = now_ms()
        entries, worst = 0, 0
        for key in sorted(self.streams):
            event = event_of(key)
            if event is None:
                continue
            lag = await stream_lag(self._redis, event, at)
            entries += lag.entries
            worst = max(worst, lag.ms)
        LAG_ENTRIES.set(entries)
        LAG_SECONDS.set(worst / 1000)
        return Lag(entries, worst)

    async def drain(self, rounds: int = 100) -> int:
        """Fold until a round finds nothing (tests, replays); returns the entries folded."""
        total = 0
        self._next_discover = self._next_claim = 0.0
        for _ in range(rounds):
            done = await self.run_once(None)
            total += done
            if not done:
                return total
        return total


async def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The VenueKit analytics worker")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--consumer", default=None)
    parser.add_argument("--claim-idle-ms", type=int, default=15_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    redis = aioredis.Redis.from_url(args.redis_url)
    worker = AnalyticsWorker(
        redis, consumer=args.consumer, claim_idle_ms=args.claim_idle_ms, batch=args.batch
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await worker.start()
    print(f"analytics worker {worker.consumer} running", flush=True)
    await stopping.wait()
    await worker.stop()
    await redis.aclose()


if __name__ == "__main__":  # pragma: no cover - exercised by the crash test as a real process
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main())
