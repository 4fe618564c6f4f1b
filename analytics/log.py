"""Reading an event's analytics log from its Redis stream (``vk:analytics:{<event>}``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

import redis.asyncio as aioredis

from analytics.attendance import AnalyticsEvent, ParticipantId, SpaceId, Totals, fold

PAGE: int = 1000
REGISTRY_KEY: Final = "vk:analytics:events"
"""The set of event ids that have an analytics stream (signalling adds each event it logs)."""
STREAM_PREFIX: Final = "vk:analytics:{"


def stream_key(event_id: str) -> str:
    return f"vk:analytics:{{{event_id}}}"


def event_of(stream: str) -> str | None:
    """The event id of an analytics stream key, or None for any other key."""
    if stream.startswith(STREAM_PREFIX) and stream.endswith("}"):
        return stream[len(STREAM_PREFIX) : -1] or None
    return None


class BadEventError(ValueError):
    """A stream entry that is not an analytics event (missing or malformed fields)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse(fields: dict[Any, Any]) -> AnalyticsEvent:
    """The event of one stream entry; :class:`BadEventError` when it is not one."""
    try:
        f = {_text(k): _text(v) for k, v in fields.items()}
        event_id, kind, at_ms = f["id"], f["kind"], int(f["at_ms"])
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise BadEventError(f"not an analytics event: {exc}") from None
    if not event_id or not kind or len(event_id) > 200 or len(kind) > 64:
        raise BadEventError("not an analytics event: empty or oversized id or kind")
    return AnalyticsEvent(
        event_id=event_id,
        kind=kind,
        at_ms=at_ms,
        participant_id=ParticipantId(f["participant"]) if f.get("participant") else None,
        space_id=SpaceId(f["space"]) if f.get("space") else None,
        actor_id=ParticipantId(f["actor"]) if f.get("actor") else None,
        profiling=f.get("profiling", "1") != "0",
    )


async def read_log(redis: aioredis.Redis, event_id: str) -> AsyncIterator[AnalyticsEvent]:
    """Every analytics event of ``event_id`` in stream order, page by page."""
    start = "-"
    while True:
        entries: Any = await redis.xrange(stream_key(event_id), min=start, count=PAGE)
        for _entry_id, fields in entries:
            try:
                yield parse(fields)
            except BadEventError:
                continue
        if len(entries) < PAGE:
            return
        last = _text(entries[-1][0])
        start = "(" + last


async def derive(redis: aioredis.Redis, event_id: str, now_ms: int | None = None) -> Totals:
    """Attendance of an event, re-derived from its whole log."""
    return fold([event async for event in read_log(redis, event_id)], now_ms)
