"""The consumer-group worker against a real Redis: shared, crash-proof, exact, reproducible."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from analytics.attendance import people_of
from analytics.log import derive, parse, read_log, stream_key
from analytics.service import AnalyticsService
from analytics.store import AnalyticsStore, sum_contributions
from analytics.worker import GROUP, AnalyticsWorker, stream_lag
from tests.analytics.scenario import scenario, write_log

EVENT = "ev-analytics"
ROOT = Path(__file__).parents[2]


async def _expected(redis: aioredis.Redis) -> dict[str, int]:
    return sum_contributions(people_of([e async for e in read_log(redis, EVENT)]).values())


async def test_two_workers_share_the_stream_and_a_crash_loses_and_doubles_nothing(
    redis_client: aioredis.Redis,
) -> None:
    events, truth = scenario(1, people=8, steps=400)
    await write_log(redis_client, EVENT, events)
    a = AnalyticsWorker(redis_client, consumer="a", batch=40, claim_idle_ms=50)
    dying = AnalyticsWorker(redis_client, consumer="dying", batch=40, claim_idle_ms=50)
    await a.discover()
    await dying.discover()
    # "dying" reads a batch and dies before folding it...
    lost: Any = await redis_client.xreadgroup(GROUP, "dying", {stream_key(EVENT): ">"}, count=40)
    assert len(lost[0][1]) == 40
    # ...and reads another, persists its fold, and dies before acknowledging it
    half: Any = await redis_client.xreadgroup(GROUP, "dying", {stream_key(EVENT): ">"}, count=40)
    await dying.store.apply(EVENT, [parse(f) for _, f in half[0][1]], 0)
    assert (await stream_lag(redis_client, EVENT, 0)).entries == len(events) - 0  # 80 pending + rest
    # two live workers share the rest; one of them claims what "dying" left once it is idle
    b = AnalyticsWorker(redis_client, consumer="b", batch=40, claim_idle_ms=50)
    await asyncio.sleep(0.1)
    done = await asyncio.gather(a.drain(), b.drain())
    assert sum(done) >= len(events) - 80
    assert a.streams == b.streams == {stream_key(EVENT)}
    store = AnalyticsStore(redis_client)
    assert await store.counters(EVENT) == await _expected(redis_client)
    people = await store.people(EVENT)
    assert {p: f.online.at(0) for p, f in people.items() if f.online.at(0)} == truth.online_ms
    lag = await stream_lag(redis_client, EVENT, 0)
    assert lag.entries == 0 and lag.ms == 0
    pending: Any = await redis_client.xpending(stream_key(EVENT), GROUP)
    assert pending["pending"] == 0


async def test_replaying_the_log_twice_gives_identical_totals(redis_client: aioredis.Redis) -> None:
    events, _ = scenario(2, people=6, steps=200)
    await write_log(redis_client, EVENT, events)
    worker = AnalyticsWorker(redis_client, consumer="w")
    await worker.drain()
    store = AnalyticsStore(redis_client)
    first_counters, first_people = await store.counters(EVENT), await store.people(EVENT)
    for _ in range(2):  # the whole log delivered again, twice
        await redis_client.xgroup_setid(stream_key(EVENT), GROUP, "0")
        assert await worker.drain() == len(events)
    assert await store.counters(EVENT) == first_counters
    assert await store.people(EVENT) == first_people
    derived = await derive(redis_client, EVENT)
    assert derived.people == first_people
    assert await derive(redis_client, EVENT) == derived


async def test_a_bad_entry_is_skipped_and_the_rest_folded(redis_client: aioredis.Redis) -> None:
    events, _ = scenario(3, people=2, steps=20)
    await write_log(redis_client, EVENT, events[:5])
    await redis_client.xadd(stream_key(EVENT), {"id": "x", "kind": "arrive", "at_ms": "soon"})
    await redis_client.xadd(stream_key(EVENT), {"nothing": "here"})
    await write_log(redis_client, EVENT, events[5:])
    worker = AnalyticsWorker(redis_client, consumer="w")
    assert await worker.drain() == len(events) + 2
    assert await AnalyticsStore(redis_client).counters(EVENT) == sum_contributions(people_of(events).values())
    assert (await stream_lag(redis_client, EVENT, 0)).entries == 0


async def test_freshness_reports_what_is_waiting(redis_client: aioredis.Redis) -> None:
    events, _ = scenario(4, people=3, steps=30)
    await write_log(redis_client, EVENT, events)
    worker = AnalyticsWorker(redis_client, consumer="w")
    await worker.discover()
    service = AnalyticsService(redis_client)
    now = 10**13
    before = await service.freshness(EVENT, now)
    assert before["lag_entries"] == len(events) and before["lag_seconds"] > 0
    assert before["last_event_ms"] is None
    await worker.drain()
    after = await service.freshness(EVENT, now)
    assert after["lag_entries"] == 0 and after["lag_seconds"] == 0
    assert after["last_event_ms"] == max(e.at_ms for e in events)
    assert (await worker.export_lag()).entries == 0


async def test_a_killed_worker_process_loses_nothing(redis_client: aioredis.Redis, redis_url: str) -> None:
    events, _ = scenario(5, people=30, steps=3000)
    await write_log(redis_client, EVENT, events[: len(events) // 2])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "analytics.worker",
        "--redis-url",
        redis_url,
        "--consumer",
        "doomed",
        "--batch",
        "50",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(200):  # until it has folded something
            if await redis_client.exists(f"vk:an:{{{EVENT}}}:meta"):
                break
            await asyncio.sleep(0.05)
        await write_log(redis_client, EVENT, events[len(events) // 2 :])
        proc.send_signal(signal.SIGKILL)
    finally:
        await proc.wait()
    survivor = AnalyticsWorker(redis_client, consumer="survivor", claim_idle_ms=10)
    await asyncio.sleep(0.05)
    await survivor.drain()
    assert await AnalyticsStore(redis_client).counters(EVENT) == sum_contributions(people_of(events).values())
    assert (await stream_lag(redis_client, EVENT, 0)).entries == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 1000), split=st.integers(0, 1000))
def test_any_batching_order_and_duplication_in_redis_gives_the_same_totals(
    redis_url: str, seed: int, split: int
) -> None:
    events, _ = scenario(seed, people=4, steps=60)
    rng = random.Random(split)
    delivered = events + [rng.choice(events) for _ in range(rng.randrange(0, 20))]
    rng.shuffle(delivered)
    batches: list[list[Any]] = []
    while delivered:
        size = rng.randrange(1, 15)
        batches.append(delivered[:size])
        delivered = delivered[size:]

    async def run() -> tuple[dict[str, int], dict[str, int]]:
        redis = aioredis.Redis.from_url(redis_url)
        try:
            await redis.delete(*[k async for k in redis.scan_iter(match="vk:an:*")] or ["-"])
            store = AnalyticsStore(redis)
            await asyncio.gather(*(store.apply("prop", batch, 0) for batch in batches))
            return await store.counters("prop"), sum_contributions(people_of(events).values())
        finally:
            await redis.aclose()

    got, want = asyncio.run(run())
    assert got == want


async def test_the_worker_task_folds_live(redis_client: aioredis.Redis) -> None:
    events, _ = scenario(6, people=3, steps=40)
    worker = AnalyticsWorker(redis_client, consumer="live", block_ms=100, discover_ms=50)
    await worker.start()
    try:
        await write_log(redis_client, EVENT, events)
        store = AnalyticsStore(redis_client)
        want = sum_contributions(people_of(events).values())
        for _ in range(100):
            if await store.counters(EVENT) == want:
                break
            await asyncio.sleep(0.05)
        assert await store.counters(EVENT) == want
    finally:
        await worker.stop()


async def test_live_participants_gauge_follows_the_fold_and_forgets_ended_events(
    redis_client: aioredis.Redis,
) -> None:
    events, _ = scenario(8, people=5, steps=60)
    ending = next(i for i, e in enumerate(events) if e.kind == "depart" and e.at_ms == events[-1].at_ms)
    await write_log(redis_client, EVENT, events[:ending])
    worker = AnalyticsWorker(redis_client, consumer="g")
    await worker.drain()
    online = sum(1 for p in people_of(events[:ending]).values() if p.online.since_ms is not None)
    labels = {"event": EVENT, "space": "_event"}
    assert online > 0
    assert REGISTRY.get_sample_value("venuekit_analytics_live_participants", labels) == online
    await write_log(redis_client, EVENT, events[ending:])
    await worker.drain()
    assert REGISTRY.get_sample_value("venuekit_analytics_live_participants", labels) is None
