"""Grants and channels used across the chat tests."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from chat.grants import Grants, Role
from chat.ids import EventId, ParticipantId, SpaceId, TeamId

EVENT = EventId("evt1")


def grants(
    pid: str,
    role: Role = Role.ATTENDEE,
    *,
    teams: tuple[str, ...] = (),
    spaces: tuple[str, ...] = ("*",),
    event: EventId = EVENT,
) -> Grants:
    return Grants(
        participant_id=ParticipantId(pid),
        event_id=event,
        role=role,
        display_name=f"Name {pid}",
        teams=frozenset(TeamId(t) for t in teams),
        spaces=frozenset(SpaceId(s) for s in spaces),
    )


def resilient_client(url: str) -> aioredis.Redis:
    """A client as the composition root should build one: it retries a command whose connection
    broke (a restarted Redis) instead of failing it at once."""
    return aioredis.Redis.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 30),
        retry_on_error=[ConnectionError, TimeoutError],
    )
