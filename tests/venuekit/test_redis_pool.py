"""The shared Redis pool: idle connections without the wait's lock, the blocking pool's limits
and fairness otherwise (real redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from venuekit.redis_pool import FastBlockingPool


@pytest.fixture
async def small_pool(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(
        connection_pool=FastBlockingPool.from_url(redis_url, max_connections=3, timeout=2)
    )
    yield client
    await client.aclose()
    await client.connection_pool.aclose()


async def test_a_burst_far_beyond_the_limit_all_succeeds_within_it(small_pool: aioredis.Redis) -> None:
    pool = small_pool.connection_pool
    peak = 0

    async def one(i: int) -> None:
        nonlocal peak
        await small_pool.set(f"pool-test:{i}", i)
        assert int(await small_pool.get(f"pool-test:{i}") or -1) == i
        peak = max(peak, len(pool._in_use_connections))

    await asyncio.gather(*(one(i) for i in range(500)))
    assert peak <= 3
    assert len(pool._in_use_connections) == 0
    assert len(pool._available_connections) <= 3


async def test_a_waiting_task_is_served_before_a_later_one_and_a_long_wait_times_out(
    redis_url: str, redis_client: aioredis.Redis
) -> None:
    pool = FastBlockingPool.from_url(redis_url, max_connections=1, timeout=0.3)
    client = aioredis.Redis(connection_pool=pool)
    try:
        await client.ping()  # one idle, connected connection
        order: list[str] = []

        async def blocked_read() -> None:
            await client.blpop(["pool-test:never"], timeout=0.5)
            order.append("holder")

        async def waiter(name: str) -> None:
            await client.ping()
            order.append(name)

        holder = asyncio.create_task(blocked_read())
        await asyncio.sleep(0.05)
        with pytest.raises(redis.exceptions.ConnectionError):
            await client.ping()  # waited 0.3 s for the only connection
        first = asyncio.create_task(waiter("first"))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(waiter("second"))
        await asyncio.gather(holder, first, second)
        assert order == ["holder", "first", "second"]
    finally:
        await client.aclose()
        await pool.aclose()
