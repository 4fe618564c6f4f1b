"""Wiring of GDPR across packages: the holders of personal data the control API reaches for
access and erasure, and the retention job that expires chat, analytics and venue logs.

The control API defines what it needs (``control_api.privacy.PersonalDataHolder``); chat and
analytics implement their parts; the venue log is signalling's stream, rewritten here with
analytics' stream rewriter so no package imports a sibling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import orjson
import redis.asyncio as aioredis
import redis.exceptions
from aiohttp import web
from prometheus_client import Counter

from analytics.erasure import AnalyticsPersonalData, Fields, renamer, rewrite_stream
from analytics.retention import drop_event
from chat.privacy import ChatPersonalData
from control_api.accounts import ORGS_KEY
from control_api.clock import parse_ms
from control_api.ids import OrgId
from control_api.privacy import DAY_MS, ERASED_NAME, PersonalDataHolder, retention_settings
from control_api.venue import VenueStore
from signalling.venue_log import log_key

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S: Final = 600.0
LOCK_KEY: Final = "vk:retention:lock"

RETENTION_RUNS = Counter("venuekit_privacy_retention_runs_total", "Retention job runs that did the work")
RETENTION_REMOVED = Counter(
    "venuekit_privacy_retention_removed_total",
    "What the retention job removed: chat entries, analytics keys, venue-log keys",
    ["kind"],
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class VenueLogPersonalData:
    """The venue log keeps who connected under which display name: export it, anonymise it."""

    section: Final = "venue_connections"

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def export(self, event_id: str, participant_ids: Sequence[str]) -> list[dict[str, Any]]:
        wanted = set(participant_ids)
        found = []
        start = "-"
        while True:
            page: Any = await self._redis.xrange(log_key(event_id), min=start, count=1000)  # type: ignore[arg-type]
            for entry_id, raw in page:
                fields = {_text(k): _text(v) for k, v in raw.items()}
                if fields.get("k") != "connect":
                    continue
                member = orjson.loads(fields["d"])
                if member.get("p") in wanted:
                    found.append(
                        {
                            "participant_id": member["p"],
                            "at_ms": int(_text(entry_id).split("-", 1)[0]),
                            "display_name": member.get("n", ""),
                            "role": member.get("r", ""),
                        }
                    )
            if len(page) < 1000:
                return found
            start = "(" + _text(page[-1][0])

    async def erase(self, event_id: str, renames: Mapping[str, str]) -> int:
        rename = renamer(renames)
        anonymous = set(renames.values())

        def transform(fields: Fields) -> Fields:
            result = rename(fields)
            if result.get("k") == "connect":
                member = orjson.loads(result["d"])
                if member.get("p") in anonymous:
                    member["n"] = ERASED_NAME
                    result["d"] = orjson.dumps(member).decode()
            return result

        return await rewrite_stream(self._redis, log_key(event_id), transform)  # type: ignore[arg-type]


def personal_data_holders(redis: aioredis.Redis) -> list[PersonalDataHolder]:
    return [ChatPersonalData(redis), AnalyticsPersonalData(redis), VenueLogPersonalData(redis)]


class RecordingRetention(Protocol):
    async def expire_before(self, org_id: str, event_id: str, cutoff_ms: int) -> int:
        """Delete the event's recordings made before ``cutoff_ms``; returns how many."""
        ...


class RetentionJob:
    """Expires chat (per message), analytics and venue logs (per ended event) and recordings
    after each organisation's periods. Every step is idempotent; a lock in Redis lets one
    instance do a round while the others skip it, and a crashed round is simply redone."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        recordings: RecordingRetention | None = None,
        interval_s: float = RETENTION_INTERVAL_S,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._redis = redis
        self._venue = VenueStore(redis)
        self._chat = ChatPersonalData(redis)
        self._recordings = recordings
        self.interval_s = interval_s
        self._clock_ms = clock_ms
        self.stopping = asyncio.Event()

    async def run_once(self, now_ms: int) -> dict[str, int]:
        """One round over every organisation; returns what it removed."""
        removed = {"chat_entries": 0, "analytics_keys": 0, "venue_log_keys": 0, "recordings": 0}
        for raw_org in sorted(_text(o) for o in await self._redis.smembers(ORGS_KEY)):
            org_id = OrgId(raw_org)
            periods = await retention_settings(self._redis, org_id)
            for event in await self._venue.events(org_id):
                event_id = event["id"]
                chat_cutoff = now_ms - periods["chat_days"] * DAY_MS
                removed["chat_entries"] += await self._chat.expire_before(event_id, chat_cutoff)
                if parse_ms(event["ends_at"]) + periods["analytics_days"] * DAY_MS < now_ms:
                    removed["analytics_keys"] += await drop_event(self._redis, event_id)
                    removed["venue_log_keys"] += int(await self._redis.delete(log_key(event_id)))  # type: ignore[arg-type]
                if self._recordings is not None:
                    cutoff = now_ms - periods["recordings_days"] * DAY_MS
                    removed["recordings"] += await self._recordings.expire_before(org_id, event_id, cutoff)
        for kind, count in removed.items():
            RETENTION_REMOVED.labels(kind).inc(count)
        return removed

    async def run_if_due(self) -> dict[str, int] | None:
        """A round, unless another instance holds this interval's lock."""
        lock_ms = max(1, int(self.interval_s * 1000 * 0.9))
        if not await self._redis.set(LOCK_KEY, "1", nx=True, px=lock_ms):
            return None
        RETENTION_RUNS.inc()
        return await self.run_once(self._clock_ms())

    async def run_forever(self) -> None:
        """Rounds until :attr:`stopping` is set (checked after every round and wait, since a
        cancellation that lands as a Redis reply arrives can be swallowed: redis-py#2028)."""
        while not self.stopping.is_set():
            try:
                done = await self.run_if_due()
                if done and any(done.values()):
                    log.info("retention removed %s", done)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                log.warning("retention round skipped: Redis unavailable (%s)", exc)
            except Exception:
                log.exception("retention round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.interval_s)


def retention_context(job: RetentionJob) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` that owns the job's task: started with the app, cancelled and awaited."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(job.run_forever(), name="privacy.retention")
        yield
        job.stopping.set()
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx
