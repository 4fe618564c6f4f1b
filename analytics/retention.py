"""Retention of the analytics log: an event's log expires as a whole.

Attendance and billing figures are folds of an event's whole log (``analytics.log.derive``);
trimming old entries from a log would leave departures without their arrivals and silently
change the figures. So the retention job drops an event's log, and every key derived from
it (``vk:analytics:{<event>}...``, the live fold's ``vk:an:{<event>}:...``), once the event ended
longer ago than the organisation's analytics period: until then the figures can be re-derived
exactly, after it nothing is left. A log that analytics workers follow with their consumer group
is emptied instead of deleted, so their reads of it go on (and return nothing).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from analytics.erasure import DERIVED_PREFIXES
from analytics.log import REGISTRY_KEY, stream_key


def _glob(literal: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in literal)


async def drop_event(redis: aioredis.Redis, event_id: str) -> int:
    """Delete the event's analytics log and its derived keys; returns how many keys went.

    Idempotent: several instances running it at once delete each key once.
    """
    doomed: list[Any] = []
    patterns = [_glob(stream_key(event_id)) + "*"]
    patterns += [_glob(prefix.format(event=event_id)) + "*" for prefix in DERIVED_PREFIXES]
    for pattern in patterns:
        async for key in redis.scan_iter(match=pattern, count=1000):
            doomed.append(key)
    await redis.srem(REGISTRY_KEY, event_id)  # workers that start from now on do not follow it
    removed = 0
    stream = stream_key(event_id)
    if await redis.exists(stream) and await redis.xinfo_groups(stream):
        # workers that follow it read it with their group: empty it, keep the key and the group
        trimmed = await redis.xtrim(stream, maxlen=0, approximate=False)
        doomed = [k for k in doomed if _text(k) != stream]
        removed += 1 if trimmed else 0
    if doomed:
        removed += int(await redis.delete(*doomed))
    return removed


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
