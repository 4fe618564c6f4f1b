"""Attendance derived from the analytics stream that real signalling instances write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis

from analytics.log import derive, read_log
from tests.signalling.test_runtime import EVENT, Instance, _connect, _instance


@pytest.fixture
async def instances(redis_client: aioredis.Redis, redis_url: str) -> AsyncIterator[list[Instance]]:
    made = [await _instance(redis_url, "an-a"), await _instance(redis_url, "an-b")]
    yield made
    for inst in made:
        await inst.runtime.stop()
        await inst.server.close()
        await inst.redis.aclose()


async def test_each_person_counts_once_however_they_connect(
    instances: list[Instance], redis_client: aioredis.Redis
) -> None:
    a, b = instances
    async with aiohttp.ClientSession() as session:
        tab1 = await _connect(session, a, "alice:attendee")
        tab2 = await _connect(session, b, "alice:attendee")  # a second tab, on another instance
        await tab1.lean.call("join_space", {"space_id": "hall"})
        bob = await _connect(session, b, "bob:attendee")
        await bob.lean.call("join_space", {"space_id": "hall"})
        await bob.lean.drop()
        await asyncio.sleep(0.3)
        bob_again = await _connect(session, a, "bob:attendee")  # reconnects elsewhere
        await bob_again.lean.call("leave_space", {})
        for client in (tab1, tab2, bob_again):
            await client.lean.close()
        await asyncio.sleep(0.3)

    totals = await derive(redis_client, EVENT)
    assert totals.unique_participants == 2
    assert totals.per_space_unique == {"hall": 2}
    assert await derive(redis_client, EVENT) == totals, "re-deriving gives the same totals"
    ids = [e.event_id async for e in read_log(redis_client, EVENT)]
    assert len(ids) == len(set(ids)), "every analytics event has its own id"
