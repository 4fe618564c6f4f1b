"""What the control API asks of analytics: billing lines and engagement, with their freshness.

Reads the fold the workers persist (:mod:`analytics.store`); the figures are JSON-ready dicts in
the shapes of the OpenAPI ``EventBilling`` and ``Engagement`` schemas.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from analytics.billing import bill_event
from analytics.report import concurrency, live, minutes, participants
from analytics.store import AnalyticsStore
from analytics.worker import stream_lag


class AnalyticsService:
    """The control API's ``AnalyticsSource``; ``redis`` belongs to the caller."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self.store = AnalyticsStore(redis)

    async def freshness(self, event_id: str, now_ms: int) -> dict[str, Any]:
        """How current the figures are: the newest event folded, when, and what is still waiting."""
        meta = await self.store.meta(event_id)
        lag = await stream_lag(self._redis, event_id, now_ms)
        return {
            "last_event_ms": meta.get("last_at_ms"),
            "folded_ms": meta.get("applied_ms"),
            "lag_entries": lag.entries,
            "lag_seconds": round(lag.ms / 1000, 3),
        }

    async def event_bill(self, event_id: str, from_ms: int, to_ms: int, now_ms: int) -> dict[str, Any]:
        bill = bill_event(event_id, await self.store.people(event_id), from_ms, to_ms, now_ms)
        return {
            "unique_participants": bill.unique_participants,
            "participant_minutes": minutes(bill.participant_ms),
            "sessions": bill.sessions,
            "participants": [
                {
                    "participant_id": p.participant_id,
                    "minutes": minutes(p.ms),
                    "sessions": [
                        {
                            "start_ms": s.start_ms,
                            "end_ms": s.end_ms,
                            "minutes": minutes(s.ms),
                            "opened_by": s.opened_by,
                            "closed_by": s.closed_by,
                        }
                        for s in p.sessions
                    ],
                }
                for p in bill.participants
            ],
            "freshness": await self.freshness(event_id, now_ms),
        }

    async def engagement(self, event_id: str, now_ms: int) -> dict[str, Any]:
        people = await self.store.people(event_id)
        return {
            **live(await self.store.counters(event_id), now_ms),
            "participants": participants(people, now_ms),
            "concurrency": concurrency(people, now_ms),
            "freshness": await self.freshness(event_id, now_ms),
        }
