"""What real signalling instances write for analytics: inferred leaves, speaking, and the fold of it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

from analytics.attendance import ParticipantId
from analytics.log import REGISTRY_KEY, read_log
from analytics.store import AnalyticsStore
from analytics.worker import AnalyticsWorker
from signalling.ids import SpaceId
from signalling.runtime import SEEN_PREFIX, analytics_key
from tests.signalling.test_runtime import EVENT, _connect, _instance


async def test_a_dead_instance_s_participants_leave_at_its_last_heartbeat(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    survivor = await _instance(redis_url, "an-live")
    doomed = await _instance(redis_url, "an-dead")
    try:
        async with aiohttp.ClientSession() as session:
            erin = await _connect(session, doomed, "erin:attendee")
            await erin.lean.call("join_space", {"space_id": "hall"})
            watcher = await _connect(session, survivor, "frank:attendee")
            # the doomed instance dies without a goodbye: its heartbeats stop, its key lapses
            for task in doomed.runtime._tasks:
                task.cancel()
            await asyncio.gather(*doomed.runtime._tasks, return_exceptions=True)
            for replica in doomed.runtime.replicas.values():
                await replica.stop()  # nor does it log anything any more
            last_beat = int(await redis_client.get(SEEN_PREFIX + "an-dead") or 0)
            await erin.lean.drop()
            for _ in range(750):  # the survivor's reaper notices within the key's lifetime
                raw: Any = await redis_client.xrange(analytics_key(EVENT))
                if any(f[b"kind"] == b"disconnect" and f[b"participant"] == b"erin" for _, f in raw):
                    break
                await asyncio.sleep(0.02)
            await watcher.lean.close()
        gone = [f for entry_id, f in raw if f[b"kind"] == b"disconnect" and f[b"participant"] == b"erin"]
        assert len(gone) == 1
        assert int(gone[0][b"at_ms"]) == last_beat, "dated by the last heartbeat, not by the reaper"
        assert orjson.loads(gone[0][b"detail"])["inferred"] == "heartbeat_lost"
        reaped_at = int(next(entry_id for entry_id, f in raw if f is gone[0]).split(b"-")[0])
        assert reaped_at > last_beat
        assert await redis_client.sismember(REGISTRY_KEY, EVENT)
        await AnalyticsWorker(redis_client, consumer="w").drain()
        erin_figures = (await AnalyticsStore(redis_client).people(EVENT))[ParticipantId("erin")]
        # closed at the last sign of life: the last heartbeat, or the arrival if that came later
        last = erin_figures.sessions[-1]
        assert last.end_ms == max(last_beat, last.start_ms)
        assert last.closed_by is not None
    finally:
        await survivor.runtime.stop()
        for inst in (survivor, doomed):
            for replica in inst.runtime.replicas.values():
                await replica.stop()
            await inst.server.close()
            await inst.redis.aclose()


async def test_active_speaker_changes_become_speaking_time(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    inst = await _instance(redis_url, "an-speak")
    try:
        async with aiohttp.ClientSession() as session:
            ada = await _connect(session, inst, "ada:speaker")
            bob = await _connect(session, inst, "bob:speaker")
            for client in (ada, bob):
                await client.lean.call("join_space", {"space_id": "hall"})
                await client.lean.call("publish", {"kind": "microphone"})
            event, hall = EVENT, SpaceId("hall")
            await inst.runtime.observe_speaker(event, hall, ParticipantId("ada"))  # type: ignore[arg-type]
            await asyncio.sleep(0.05)
            await inst.runtime.observe_speaker(event, hall, ParticipantId("bob"))  # type: ignore[arg-type]
            await asyncio.sleep(0.05)
            await inst.runtime.observe_speaker(event, hall, None)
            for client in (ada, bob):
                await client.lean.close()
            await asyncio.sleep(0.2)
        log = [e async for e in read_log(redis_client, EVENT) if e.kind.startswith("speaking")]
        assert [(e.kind, e.participant_id) for e in log] == [
            ("speaking_started", "ada"),
            ("speaking_stopped", "ada"),
            ("speaking_started", "bob"),
            ("speaking_stopped", "bob"),
        ]
        await AnalyticsWorker(redis_client, consumer="w").drain()
        people = await AnalyticsStore(redis_client).people(EVENT)
        for who in ("ada", "bob"):
            speaking = people[ParticipantId(who)].engagement["hall"].speaking
            assert speaking.since_ms is None and speaking.closed_ms >= 40
    finally:
        await inst.runtime.stop()
        await inst.server.close()
        await inst.redis.aclose()
