"""The fan-out engine against a real Redis, with a recording sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from chat import fanout as fanout_module
from chat import model
from chat.channels import event_channel, team_channel
from chat.fanout import FanoutConfig, FanoutEngine
from chat.grants import Role
from chat.ids import InstanceId, RecipientId
from chat.model import ChatItem, ChatMessage
from chat.store import ChatStore
from chat.timeline import Timeline
from chat.validation import id_key
from tests.chat.helpers import EVENT, grants, resilient_client
from tests.chat.support import CuttableProxy, RecordingSink, listener_up, wait_until
from tests.support.redis_server import RedisServer

MAIN = event_channel(EVENT)
ALICE = grants("alice")
ORG = grants("org", Role.ORGANISER)
R1, R2, R3 = RecipientId("sid1"), RecipientId("sid2"), RecipientId("sid3")
FAST = FanoutConfig(window_ms=20, block_ms=300, stall_grace_ms=2_000, retry_initial_ms=20, retry_max_ms=200)


@pytest.fixture
async def engine(redis_client: aioredis.Redis) -> AsyncIterator[tuple[FanoutEngine, RecordingSink]]:
    sink = RecordingSink()
    engine = FanoutEngine(redis_client, sink, config=FAST)
    await engine.start()
    yield engine, sink
    await engine.stop()


def texts(items: list[dict[str, object]]) -> list[object]:
    return [item["text"] for item in items if item["type"] == "message"]


async def test_messages_are_coalesced_and_encoded_once_per_batch(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes: list[int] = []
    real_encode = model.encode_batch

    def counting_encode(name: str, items: list[ChatItem]) -> bytes:
        encodes.append(len(items))
        return real_encode(name, items)

    monkeypatch.setattr(fanout_module, "encode_batch", counting_encode)  # the name fanout calls
    sink = RecordingSink()
    engine = FanoutEngine(redis_client, sink, config=FanoutConfig(window_ms=1_000, block_ms=300))
    await engine.start()
    try:
        store = ChatStore(redis_client)
        for recipient in (R1, R2, R3):
            await engine.subscribe(MAIN, recipient)
        sent = await asyncio.gather(*(store.append_message(MAIN, ALICE, f"m{i}", 0) for i in range(30)))
        sent.sort(key=lambda m: id_key(m.id))  # concurrent sends: Redis decided their order
        await wait_until(lambda: len(sink.items_for(R1)) == 30)
        assert len(sink.batches) < 30  # coalesced, not one frame per message
        assert encodes == [len(orjson.loads(batch)["items"]) for _, batch, _ in sink.batches]
        assert all(recipients == {R1, R2, R3} for _, _, recipients in sink.batches)
        for recipient in (R1, R2, R3):
            assert [item["id"] for item in sink.items_for(recipient)] == [m.id for m in sent]
        first = sink.items_for(R2)[0]
        assert first["sender"] == {"id": "alice", "name": "Name alice", "role": "attendee"}
    finally:
        await engine.stop()


async def test_only_subscribed_channels_reach_their_members(
    engine: tuple[FanoutEngine, RecordingSink], redis_client: aioredis.Redis
) -> None:
    fan, sink = engine
    store = ChatStore(redis_client)
    team = team_channel(EVENT, "t1")
    await fan.subscribe(MAIN, R1)
    await fan.subscribe(team, R2)
    await store.append_message(MAIN, ALICE, "to all", 0)
    await store.append_message(team, grants("mia", teams=("t1",)), "to team", 0)
    await wait_until(lambda: len(sink.batches) >= 2)
    assert texts(sink.items_for(R1)) == ["to all"]
    assert texts(sink.items_for(R2)) == ["to team"]
    assert fan.recipients(team) == {R2}


async def test_unsubscribe_stops_delivery_and_ends_the_tail(
    engine: tuple[FanoutEngine, RecordingSink], redis_client: aioredis.Redis
) -> None:
    fan, sink = engine
    store = ChatStore(redis_client)
    await fan.subscribe(MAIN, R1)
    await fan.subscribe(MAIN, R2)
    await store.append_message(MAIN, ALICE, "one", 0)
    await wait_until(lambda: len(sink.items_for(R2)) == 1)
    fan.unsubscribe(MAIN, R2)
    await store.append_message(MAIN, ALICE, "two", 0)
    await wait_until(lambda: len(sink.items_for(R1)) == 2)
    assert texts(sink.items_for(R2)) == ["one"]
    fan.unsubscribe_all(R1)
    assert fan.recipients(MAIN) == frozenset()
    await wait_until(lambda: not fan._retiring, what="the event's tail task ended")
    await store.append_message(MAIN, ALICE, "three", 0)
    await fan.subscribe(MAIN, R3)  # a fresh tail starts from now
    await store.append_message(MAIN, ALICE, "four", 0)
    await wait_until(lambda: len(sink.items_for(R3)) == 1)
    assert texts(sink.items_for(R3)) == ["four"]


async def test_deletions_reach_connected_subscribers(
    engine: tuple[FanoutEngine, RecordingSink], redis_client: aioredis.Redis
) -> None:
    fan, sink = engine
    store = ChatStore(redis_client)
    await fan.subscribe(MAIN, R1)
    kept = await store.append_message(MAIN, ALICE, "fine", 0)
    bad = await store.append_message(MAIN, ALICE, "spam", 0)
    await wait_until(lambda: len(sink.items_for(R1)) == 2)
    await store.delete_message(MAIN, bad.id, ORG.participant_id)
    await store.set_locked(MAIN, True, ORG.participant_id)
    await wait_until(lambda: len(sink.items_for(R1)) == 4)
    deleted, locked = sink.items_for(R1)[2:]
    assert deleted["type"] == "deleted" and deleted["target_id"] == bad.id and deleted["by"] == "org"
    assert locked["type"] == "locked"
    timeline = sink.timeline_for(R1)
    assert [m["id"] for m in timeline.messages] == [kept.id] and timeline.locked


async def test_subscribe_then_replay_misses_nothing_while_others_write(
    engine: tuple[FanoutEngine, RecordingSink], redis_client: aioredis.Redis
) -> None:
    fan, sink = engine
    store = ChatStore(redis_client)
    sent: list[ChatMessage] = []
    first = await store.append_message(MAIN, ALICE, "0", 0)
    sent.append(first)
    stop = asyncio.Event()

    async def writer() -> None:
        i = 1
        while not stop.is_set() or i < 60:
            sent.append(await store.append_message(MAIN, ALICE, str(i), 0))
            i += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    await wait_until(lambda: len(sent) > 10)
    # The client saw only the first message; it subscribes, then replays after it.
    await fan.subscribe(MAIN, R1)
    timeline = Timeline()
    timeline.apply([first.to_wire()])
    timeline.begin_replay(first.id)
    while timeline.is_replaying():
        timeline.apply(sink.items_for(R1))  # live batches interleave with the pages
        assert timeline.replay_cursor is not None
        page = await store.read_after(MAIN, timeline.replay_cursor, 7)
        timeline.apply_replay([item.to_wire() for item in page.items], page.more)
    stop.set()
    await task
    await wait_until(lambda: sink.timeline_for(R1).newest_id == sent[-1].id)
    timeline.apply(sink.items_for(R1))
    assert [m["id"] for m in timeline.messages] == [m.id for m in sent]


async def test_a_cut_listener_is_reported_down_and_recovers_the_gap_by_id(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    proxy = CuttableProxy(server.port)
    await proxy.start()
    writer_client = resilient_client(server.url)
    listener_client = aioredis.Redis.from_url(proxy.url)
    sink = RecordingSink()
    fan = FanoutEngine(listener_client, sink, instance_id=InstanceId("cut-test"), config=FAST)
    await fan.start()
    try:
        store = ChatStore(writer_client)
        await fan.subscribe(MAIN, R1)
        before = [await store.append_message(MAIN, ALICE, f"before{i}", 0) for i in range(5)]
        await wait_until(lambda: len(sink.items_for(R1)) == 5)
        assert listener_up("cut-test") == 1.0
        proxy.cut()
        await wait_until(lambda: listener_up("cut-test") == 0.0, what="listener reported down")
        assert not fan.listener_up
        # Other instances keep writing while this one cannot read.
        during = [await store.append_message(MAIN, ALICE, f"during{i}", 0) for i in range(40)]
        proxy.heal()
        await wait_until(lambda: listener_up("cut-test") == 1.0, what="listener reported up again")
        after = [await store.append_message(MAIN, ALICE, f"after{i}", 0) for i in range(5)]
        expected = [m.id for m in before + during + after]
        await wait_until(lambda: len(sink.items_for(R1)) >= len(expected))
        assert [item["id"] for item in sink.items_for(R1)] == expected  # exactly once, in order
    finally:
        await fan.stop()
        await listener_client.aclose()
        await writer_client.aclose()
        await proxy.stop()
        server.stop()


async def test_a_stalled_listener_is_detected_and_recovers(tmp_path: Path) -> None:
    """Packets black-holed: the read never fails by itself; the engine's read deadline
    (block_ms + stall_grace_ms) declares the listener down and it resumes by id once healed."""
    server = RedisServer(tmp_path)
    server.start()
    proxy = CuttableProxy(server.port)
    await proxy.start()
    writer_client = resilient_client(server.url)
    listener_client = aioredis.Redis.from_url(proxy.url)
    sink = RecordingSink()
    config = FanoutConfig(
        window_ms=20, block_ms=200, stall_grace_ms=500, retry_initial_ms=20, retry_max_ms=100
    )
    fan = FanoutEngine(listener_client, sink, instance_id=InstanceId("stall-test"), config=config)
    await fan.start()
    try:
        store = ChatStore(writer_client)
        await fan.subscribe(MAIN, R1)
        before = [await store.append_message(MAIN, ALICE, f"before{i}", 0) for i in range(3)]
        await wait_until(lambda: len(sink.items_for(R1)) == 3)
        proxy.stall()
        during = [await store.append_message(MAIN, ALICE, f"during{i}", 0) for i in range(20)]
        await wait_until(lambda: listener_up("stall-test") == 0.0, what="stalled listener reported down")
        assert len(sink.items_for(R1)) == 3
        proxy.heal()
        await wait_until(lambda: listener_up("stall-test") == 1.0, what="listener reported up again")
        expected = [m.id for m in before + during]
        await wait_until(lambda: len(sink.items_for(R1)) >= len(expected))
        assert [item["id"] for item in sink.items_for(R1)] == expected
    finally:
        await fan.stop()
        await listener_client.aclose()
        await writer_client.aclose()
        await proxy.stop()
        server.stop()


async def test_the_tail_survives_a_redis_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    client = resilient_client(server.url)
    sink = RecordingSink()
    fan = FanoutEngine(client, sink, instance_id=InstanceId("restart-test"), config=FAST)
    await fan.start()
    try:
        store = ChatStore(client)
        await fan.subscribe(MAIN, R1)
        before = [await store.append_message(MAIN, ALICE, f"before{i}", 0) for i in range(5)]
        await wait_until(lambda: len(sink.items_for(R1)) == 5)
        server.stop(kill=True)
        await wait_until(lambda: listener_up("restart-test") == 0.0, what="listener reported down")
        server.start()
        after = [await store.append_message(MAIN, ALICE, f"after{i}", 0) for i in range(5)]
        await wait_until(lambda: len(sink.items_for(R1)) == 10)
        assert [item["id"] for item in sink.items_for(R1)] == [m.id for m in before + after]
        assert listener_up("restart-test") == 1.0
    finally:
        await fan.stop()
        await client.aclose()
        server.stop()


async def test_a_slow_sink_pauses_reading_instead_of_piling_up(redis_client: aioredis.Redis) -> None:
    class GatedSink(RecordingSink):
        def __init__(self) -> None:
            super().__init__()
            self.gate = asyncio.Event()

        async def deliver(self, channel, batch, recipients):  # type: ignore[no-untyped-def]
            await self.gate.wait()
            await super().deliver(channel, batch, recipients)

    sink = GatedSink()
    config = FanoutConfig(window_ms=5, block_ms=300, read_count=20, max_batch_items=10, max_pending_items=50)
    fan = FanoutEngine(redis_client, sink, config=config)
    await fan.start()
    try:
        store = ChatStore(redis_client)
        await fan.subscribe(MAIN, R1)
        sent = [await store.append_message(MAIN, ALICE, f"m{i}", 0) for i in range(300)]
        await wait_until(lambda: fan.pending_items() >= 50)
        for _ in range(20):  # the tail stays paused while the sink is stuck
            await asyncio.sleep(0.01)
            assert fan.pending_items() <= 50 + 20
        sink.gate.set()
        await wait_until(lambda: len(sink.items_for(R1)) == 300)
        assert [item["id"] for item in sink.items_for(R1)] == [m.id for m in sent]
    finally:
        sink.gate.set()
        await fan.stop()


async def test_a_failing_sink_does_not_stop_the_engine(redis_client: aioredis.Redis) -> None:
    class FlakySink(RecordingSink):
        def __init__(self) -> None:
            super().__init__()
            self.failures = 0

        async def deliver(self, channel, batch, recipients):  # type: ignore[no-untyped-def]
            if self.failures == 0:
                self.failures += 1
                raise RuntimeError("transport hiccup")
            await super().deliver(channel, batch, recipients)

    sink = FlakySink()
    fan = FanoutEngine(redis_client, sink, config=FAST)
    await fan.start()
    try:
        store = ChatStore(redis_client)
        await fan.subscribe(MAIN, R1)
        await store.append_message(MAIN, ALICE, "lost to the transport", 0)
        await wait_until(lambda: sink.failures == 1)
        await store.append_message(MAIN, ALICE, "delivered", 0)
        await wait_until(lambda: len(sink.items_for(R1)) == 1)
        assert texts(sink.items_for(R1)) == ["delivered"]
    finally:
        await fan.stop()
