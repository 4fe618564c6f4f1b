"""Reading an event's analytics log from its Redis stream (``vk:analytics:{<event>}``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from analytics.attendance import AnalyticsEvent, ParticipantId, SpaceId, Totals, fold

PAGE: int = 1000


def stream_key(event_id: str) -> str:
    return f"vk:analytics:{{{event_id}}}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse(fields: dict[Any, Any]) -> AnalyticsEvent:
    f = {_text(k): _text(v) for k, v in fields.items()}
    return AnalyticsEvent(
        event_id=f["id"],
        kind=f["kind"],
        at_ms=int(f["at_ms"]),
        participant_id=ParticipantId(f["participant"]) if f.get("participant") else None,
        space_id=SpaceId(f["space"]) if f.get("space") else None,
    )


async def read_log(redis: aioredis.Redis, event_id: str) -> AsyncIterator[AnalyticsEvent]:
    """Every analytics event of ``event_id`` in stream order, page by page."""
    start = "-"
    while True:
        entries: Any = await redis.xrange(stream_key(event_id), min=start, count=PAGE)
        for _entry_id, fields in entries:
            yield parse(fields)
        if len(entries) < PAGE:
            return
        last = _text(entries[-1][0])
        start = "(" + last


async def derive(redis: aioredis.Redis, event_id: str, now_ms: int | None = None) -> Totals:
    """Attendance of an event, re-derived from its whole log."""
    return fold([event async for event in read_log(redis, event_id)], now_ms)
