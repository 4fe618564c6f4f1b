"""The stream rewrite under consumer groups and concurrent writers, anonymous logging after an
erasure, and the retention job (settings through the API, expiry, freshness, idempotence)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web

from analytics.erasure import renamer, rewrite_stream
from analytics.log import stream_key
from chat.channels import event_channel
from chat.grants import Grants
from chat.grants import Role as ChatRole
from chat.ids import EventId as ChatEventId
from chat.ids import ParticipantId as ChatPid
from chat.store import ChatStore
from control_api.clock import parse_ms
from signalling import effects as fx
from signalling.ids import EventId, ParticipantId
from signalling.revocations import RevocationEnforcer
from signalling.runtime import SignallingRuntime, StaticDirectory
from signalling.venue_log import LogEntry, log_key
from tests.control_api.conftest import ClientFactory, Org
from tests.control_api.test_tickets import open_shop
from tests.control_api.test_venue import EVENT
from venuekit.privacy import LOCK_KEY, RetentionJob, retention_context

DAY_MS = 86_400_000


async def test_a_rewrite_keeps_ids_ttl_and_groups_and_redelivers_pending(
    redis_client: aioredis.Redis,
) -> None:
    key = "vk:analytics:{evt_rw}"
    ids = [await redis_client.xadd(key, {"participant": f"ptc_{i}", "n": str(i)}) for i in range(5)]
    await redis_client.pexpire(key, 600_000)
    await redis_client.xgroup_create(key, "fold", id="0")
    read = await redis_client.xreadgroup("fold", "w1", {key: ">"}, count=3)
    await redis_client.xack(key, "fold", read[0][1][0][0])  # 1 acked, 2 pending, 3 delivered

    changed = await rewrite_stream(redis_client, key, renamer({"ptc_1": "anon_1", "ptc_3": "anon_3"}))

    assert changed == 2
    entries = await redis_client.xrange(key)
    assert [e[0] for e in entries] == ids
    assert [e[1][b"participant"] for e in entries] == [b"ptc_0", b"anon_1", b"ptc_2", b"anon_3", b"ptc_4"]
    assert 0 < await redis_client.pttl(key) <= 600_000
    again = await redis_client.xreadgroup("fold", "w1", {key: ">"})
    assert [e[0] for e in again[0][1]] == ids[1:]  # the two pending ones again, then the rest
    assert await redis_client.xadd(key, {"n": "5"}) > ids[-1]
    assert await rewrite_stream(redis_client, key, renamer({"ptc_1": "x"})) == 0  # nothing to do


async def test_a_rewrite_keeps_what_is_appended_while_it_runs(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    key = "vk:analytics:{evt_live}"
    for i in range(3):
        await redis_client.xadd(key, {"participant": "ptc_gone", "n": str(i)})
    writer = redis.Redis.from_url(redis_url)
    rename = renamer({"ptc_gone": "anon_x"})
    calls = 0

    def transform(fields: dict[str, str]) -> dict[str, str]:
        nonlocal calls
        calls += 1
        if calls <= 2:  # someone writes while the copy runs: the swap must wait for it
            writer.xadd(key, {"participant": "ptc_gone", "n": f"late{calls}"})
        return rename(fields)

    try:
        assert await rewrite_stream(redis_client, key, transform) == 5
    finally:
        writer.close()
    entries = await redis_client.xrange(key)
    assert [e[1][b"n"] for e in entries] == [b"0", b"1", b"2", b"late1", b"late2"]
    assert {e[1][b"participant"] for e in entries} == {b"anon_x"}
    assert await redis_client.exists(key + ":rewrite") == 0


class _NoSockets:
    def __init__(self) -> None:
        self.connections: dict[str, Any] = {}


async def test_after_an_erasure_announcement_signalling_logs_the_anonymous_id(
    redis_client: aioredis.Redis,
) -> None:
    runtime = SignallingRuntime(redis_client, StaticDirectory({}), instance="inst-a")
    enforcer = RevocationEnforcer(redis_client, _NoSockets(), on_erased=runtime.forget_participants)  # type: ignore[arg-type]
    await enforcer.apply(
        {"org": "org_x", "tickets": [], "participants": ["ptc_gone"], "erased": {"ptc_gone": "anon_1"}}
    )
    event = EventId("evt_anon")
    await runtime.execute(
        event,
        LogEntry("9-0", "inst-a", None),
        [
            fx.Analytics(
                fx.AnalyticsKind.DEPART, 1000, ParticipantId("ptc_gone"), actor_id=ParticipantId("ptc_gone")
            )
        ],
    )
    [(_, fields)] = await redis_client.xrange(stream_key(event))
    assert (fields[b"participant"], fields[b"actor"]) == (b"anon_1", b"anon_1")


async def _seed(org: Org, new_client: ClientFactory, redis_client: aioredis.Redis) -> str:
    shop = await open_shop(org, new_client)
    event = ChatEventId(shop.event_id)
    who = Grants(ChatPid("ptc_someone"), event, ChatRole.ATTENDEE, "Someone")
    await ChatStore(redis_client).append_message(event_channel(event), who, "hi", 0)
    await redis_client.xadd(stream_key(shop.event_id), {"id": "1-0:0", "kind": "arrive", "at_ms": "1"})
    await redis_client.xadd(log_key(EventId(shop.event_id)), {"i": "x", "k": "tick"})
    return shop.event_id


async def _kept(redis_client: aioredis.Redis, event_id: str) -> tuple[int, int, int]:
    chat = await redis_client.xlen(f"vk:chat:{{{event_id}}}:s:event")
    analytics = await redis_client.xlen(stream_key(event_id))
    venue = await redis_client.xlen(log_key(EventId(event_id)))
    return chat, analytics, venue


async def test_retention_expires_old_data_keeps_fresh_data_and_is_idempotent(
    org: Org, other_org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    defaults = await org.api.get(f"/orgs/{org.id}/privacy/settings", expect=200)
    assert defaults.body == {"chat_days": 365, "analytics_days": 730, "recordings_days": 90}
    bad = await org.api.call("PUT", f"/orgs/{org.id}/privacy/settings", {"chat_days": 0})
    assert (bad.status, bad.code) == (422, "validation_failed")
    short = {"chat_days": 1, "analytics_days": 1}
    changed = await org.api.call("PUT", f"/orgs/{org.id}/privacy/settings", short, expect=200)
    assert changed.body == {**defaults.body, **short}
    long = {"chat_days": 3650, "analytics_days": 3650}
    await other_org.api.call("PUT", f"/orgs/{other_org.id}/privacy/settings", long, expect=200)
    audit = (await org.api.get(f"/orgs/{org.id}/privacy/audit", expect=200)).body["items"]
    assert (audit[0]["action"], audit[0]["detail"]) == ("settings", short)

    short_event = await _seed(org, new_client, redis_client)
    long_event = await _seed(other_org, new_client, redis_client)
    await redis_client.xgroup_create(stream_key(short_event), "vk-analytics", id="0")  # a worker follows it
    ends_ms = parse_ms(EVENT["ends_at"])

    job = RetentionJob(redis_client)
    assert sum((await job.run_once(time.time_ns() // 1_000_000)).values()) == 0  # nothing is old yet
    assert await _kept(redis_client, short_event) == (1, 1, 1)

    later = ends_ms + 2 * DAY_MS
    results = await asyncio.gather(RetentionJob(redis_client).run_once(later), job.run_once(later))
    assert all(r["chat_entries"] <= 1 for r in results)
    assert await _kept(redis_client, short_event) == (0, 0, 0)
    groups = await redis_client.xinfo_groups(stream_key(short_event))
    assert [g["name"] for g in groups] == [b"vk-analytics"]  # emptied, so the worker's reads go on
    assert await _kept(redis_client, long_event) == (1, 1, 1)
    assert sum((await job.run_once(later)).values()) == 0  # a second round finds nothing

    # only one instance does a round per interval
    rounds = await asyncio.gather(
        RetentionJob(redis_client).run_if_due(), RetentionJob(redis_client).run_if_due()
    )
    assert sorted(r is None for r in rounds) == [False, True]


async def test_the_retention_task_runs_a_round_at_start_and_stops_with_the_app(
    redis_client: aioredis.Redis,
) -> None:
    job = RetentionJob(redis_client, interval_s=3600)
    ctx = retention_context(job)(web.Application())
    await anext(ctx)
    for _ in range(100):
        if await redis_client.exists(LOCK_KEY):
            break
        await asyncio.sleep(0.01)
    assert await redis_client.exists(LOCK_KEY)
    with contextlib.suppress(StopAsyncIteration):
        await anext(ctx)
    assert job.stopping.is_set()
