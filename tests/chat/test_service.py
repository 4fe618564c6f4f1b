"""The chat runtime end to end on a real Redis: rules, persistence, fan-out and reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from chat.channels import Channel, event_channel, team_channel
from chat.errors import ChatError
from chat.fanout import FanoutConfig, FanoutEngine
from chat.grants import Grants, Role
from chat.ids import InstanceId, MessageId, RecipientId
from chat.model import ChatMessage
from chat.ratelimit import RatePolicy
from chat.service import ChatService, wall_clock_ms
from chat.store import ChatStore
from chat.timeline import Timeline
from chat.validation import TextLimits
from tests.chat.helpers import grants, resilient_client
from tests.chat.support import RecordingSink, wait_until
from tests.support.redis_server import RedisServer

FAST = FanoutConfig(window_ms=20, block_ms=300, stall_grace_ms=2_000, retry_initial_ms=20, retry_max_ms=200)
ALICE = grants("alice")
MIA = grants("mia", teams=("t1",))
OTTO = grants("otto", teams=("t2",))
ORG = grants("org", Role.ORGANISER, spaces=())
SID_A, SID_B, SID_C = RecipientId("a"), RecipientId("b"), RecipientId("c")


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_000_000

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Instance:
    """One signalling instance's chat: its own fan-out engine and sink, a shared Redis."""

    service: ChatService
    fanout: FanoutEngine
    sink: RecordingSink


async def make_instance(
    client: aioredis.Redis,
    clock: Clock | None = None,
    rate: RatePolicy | None = None,
    name: str = "",
    tail_client: aioredis.Redis | None = None,
) -> Instance:
    sink = RecordingSink()
    fanout = FanoutEngine(
        tail_client or client, sink, config=FAST, instance_id=InstanceId(name) if name else None
    )
    await fanout.start()
    service = ChatService(
        ChatStore(client),
        fanout,
        rate=rate or RatePolicy(burst=1000, interval_ms=1),
        text_limits=TextLimits(max_chars=100, max_bytes=200),
        clock_ms=clock or wall_clock_ms,
    )
    return Instance(service, fanout, sink)


@pytest.fixture
async def chat(redis_client: aioredis.Redis) -> AsyncIterator[Instance]:
    instance = await make_instance(redis_client)
    yield instance
    await instance.fanout.stop()


async def say(instance: Instance, who: Grants, channel: str, text: str) -> ChatMessage:
    return await instance.service.send(who, {"channel": channel, "text": text})


async def refused(code: str, call: Any) -> ChatError:
    with pytest.raises(ChatError) as err:
        await call
    assert err.value.code == code, err.value
    return err.value


def wire_texts(items: list[dict[str, Any]] | list[Any]) -> list[str]:
    return [item["text"] for item in items if item["type"] == "message"]


async def test_sender_identity_comes_from_grants_only(chat: Instance) -> None:
    message = await say(chat, ALICE, "event", "  hello  ")
    assert (message.sender_id, message.sender_name, message.text) == ("alice", "Name alice", "hello")
    await refused("malformed", chat.service.send(ALICE, {"channel": "event", "text": "x", "sender": "org"}))


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("just text", "malformed"),
        (["event", "hi"], "malformed"),
        (None, "malformed"),
        ({"channel": "event"}, "malformed"),
        ({"text": "hi"}, "malformed"),
        ({"channel": "event", "text": "hi", "extra": 1}, "malformed"),
        ({1: "event", "text": "hi"}, "malformed"),
        ({"channel": "nope", "text": "hi"}, "invalid_channel"),
        ({"channel": 7, "text": "hi"}, "invalid_channel"),
        ({"channel": "event", "text": ""}, "empty_message"),
        ({"channel": "event", "text": " \n "}, "empty_message"),
        ({"channel": "event", "text": "x" * 101}, "message_too_long"),
        ({"channel": "event", "text": "é" * 100 + "é"}, "message_too_long"),
        ({"channel": "event", "text": "\x1b[31mred"}, "invalid_characters"),
        ({"channel": "event", "text": 12}, "not_text"),
        ({"channel": "event", "text": {"html": "<b>"}}, "not_text"),
        ({"channel": "team:t1", "text": "hi"}, "channel_not_found"),
        ({"channel": "dm:bob:carl", "text": "hi"}, "channel_not_found"),
        ({"channel": "space:x", "text": "hi"}, "forbidden"),
    ],
)
async def test_bad_sends_are_refused_and_store_nothing(
    chat: Instance, redis_client: aioredis.Redis, payload: object, code: str
) -> None:
    sender = grants("alice", spaces=("stage",))
    before = REGISTRY.get_sample_value("venuekit_chat_rejected_total", {"code": code}) or 0.0
    error = await refused(code, chat.service.send(sender, payload))
    assert error.to_wire()["code"] == code and error.message
    assert await redis_client.dbsize() == 0
    assert REGISTRY.get_sample_value("venuekit_chat_rejected_total", {"code": code}) == before + 1


async def test_team_chat_is_private_to_its_members(chat: Instance, redis_client: aioredis.Redis) -> None:
    secret = await say(chat, MIA, "team:t1", "our idea")
    await say(chat, ORG, "team:t1", "organisers can see it")
    keys_before = sorted(await redis_client.keys("*"))
    outsider = chat.service
    await refused("channel_not_found", outsider.send(OTTO, {"channel": "team:t1", "text": "let me in"}))
    await refused("channel_not_found", outsider.join(OTTO, SID_C, {"channel": "team:t1"}))
    await refused(
        "channel_not_found", outsider.join(OTTO, SID_C, {"channel": "team:t1", "last_id": secret.id})
    )
    await refused("channel_not_found", outsider.history(OTTO, {"channel": "team:t1"}))
    await refused("channel_not_found", outsider.replay(OTTO, {"channel": "team:t1", "after": secret.id}))
    await refused("channel_not_found", outsider.delete(OTTO, {"channel": "team:t1", "id": secret.id}))
    assert sorted(await redis_client.keys("*")) == keys_before
    assert chat.fanout.recipients(team_channel(ORG.event_id, "t1")) == frozenset()
    # The same outsider in its own team, and a member, work.
    joined = await chat.service.join(MIA, SID_A, {"channel": "team:t1"})
    assert wire_texts([i.to_wire() for i in joined.items]) == ["our idea", "organisers can see it"]
    await say(chat, OTTO, "team:t2", "ours")
    await chat.service.join(OTTO, SID_C, {"channel": "team:t2"})
    await say(chat, MIA, "team:t1", "still secret")
    await say(chat, OTTO, "team:t2", "ours again")
    await wait_until(lambda: len(chat.sink.items_for(SID_A)) == 1 and len(chat.sink.items_for(SID_C)) == 1)
    assert wire_texts(chat.sink.items_for(SID_C)) == ["ours again"]
    assert wire_texts(chat.sink.items_for(SID_A)) == ["still secret"]


async def test_rate_limit_says_when_to_retry(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    instance = await make_instance(redis_client, clock, RatePolicy(burst=3, interval_ms=2_000))
    try:
        before = REGISTRY.get_sample_value("venuekit_chat_rate_limited_total", {"kind": "event"}) or 0.0
        for i in range(3):
            await say(instance, ALICE, "event", f"burst {i}")
        clock.now_ms += 500
        error = await refused("rate_limited", say(instance, ALICE, "event", "too fast"))
        assert error.retry_after_ms == 1_500
        assert error.to_wire()["retry_after_ms"] == 1_500
        await say(instance, MIA, "event", "others are not limited")
        clock.now_ms += 1_500
        await say(instance, ALICE, "event", "on time")
        assert REGISTRY.get_sample_value("venuekit_chat_rate_limited_total", {"kind": "event"}) == before + 1
        history = await instance.service.history(ALICE, {"channel": "event"})
        assert "too fast" not in wire_texts([m.to_wire() for m in history.items])
    finally:
        await instance.fanout.stop()


async def test_moderation_reaches_subscribers_and_history(chat: Instance) -> None:
    await chat.service.join(ALICE, SID_A, {"channel": "event"})
    good = await say(chat, ALICE, "event", "hello all")
    spam = await say(chat, MIA, "event", "buy now")
    for attempt in (
        chat.service.delete(ALICE, {"channel": "event", "id": spam.id}),
        chat.service.lock(MIA, {"channel": "event", "locked": True}),
        chat.service.mute(ALICE, {"channel": "event", "participant": "mia"}),
    ):
        await refused("forbidden", attempt)
    await chat.service.delete(ORG, {"channel": "event", "id": spam.id})
    await wait_until(lambda: any(i["type"] == "deleted" for i in chat.sink.items_for(SID_A)))
    assert [m["id"] for m in chat.sink.timeline_for(SID_A).messages] == [good.id]
    history = await chat.service.history(ALICE, {"channel": "event"})
    assert [m.id for m in history.items] == [good.id]
    # A client that rejoins from before the spam learns of the deletion too.
    rejoin = await chat.service.join(ALICE, SID_B, {"channel": "event", "last_id": good.id})
    timeline = Timeline()
    timeline.apply([good.to_wire()] + [i.to_wire() for i in rejoin.items])
    assert timeline.texts == ["hello all"]
    await refused("unknown_message_id", chat.service.delete(ORG, {"channel": "event", "id": spam.id}))

    until_ms = await chat.service.mute(ORG, {"channel": "event", "participant": "mia", "duration_ms": 60_000})
    assert until_ms > 0
    error = await refused("muted", say(chat, MIA, "event", "hello?"))
    assert error.retry_after_ms is not None and 0 < error.retry_after_ms <= 60_000
    await say(chat, ALICE, "event", "alice is not muted")
    await chat.service.unmute(ORG, {"channel": "event", "participant": "mia"})
    await say(chat, MIA, "event", "back")

    await chat.service.lock(ORG, {"channel": "event", "locked": True})
    await refused("channel_locked", say(chat, ALICE, "event", "hello?"))
    await say(chat, ORG, "event", "read-only for now")
    joined = await chat.service.join(MIA, SID_C, {"channel": "event"})
    assert joined.locked
    await chat.service.lock(ORG, {"channel": "event", "locked": False})
    await say(chat, ALICE, "event", "open again")
    await wait_until(lambda: "open again" in chat.sink.timeline_for(SID_A).texts)
    timeline = chat.sink.timeline_for(SID_A)
    assert not timeline.locked
    assert timeline.texts == ["hello all", "alice is not muted", "back", "read-only for now", "open again"]
    await refused("malformed", chat.service.lock(ORG, {"channel": "event", "locked": 1}))
    await refused(
        "malformed", chat.service.mute(ORG, {"channel": "event", "participant": "x", "duration_ms": True})
    )
    # Direct messages are invisible to organisers, so not moderated by them.
    await refused("channel_not_found", chat.service.delete(ORG, {"channel": "dm:alice:mia", "id": good.id}))


async def test_replay_requests_are_checked(chat: Instance) -> None:
    mine = await say(chat, ALICE, "event", "main")
    team = await say(chat, MIA, "team:t1", "team")
    for bad, code in (
        ("nonsense", "bad_message_id"),
        (12, "bad_message_id"),
        (team.id, "unknown_message_id"),
    ):
        await refused(code, chat.service.join(ALICE, SID_A, {"channel": "event", "last_id": bad}))
        await refused(code, chat.service.replay(ALICE, {"channel": "event", "after": bad}))
    # A refused join leaves no subscription behind.
    assert chat.fanout.recipients(event_channel(ALICE.event_id)) == frozenset()
    # ... and a refused rejoin keeps the subscription the socket already had.
    await chat.service.join(ALICE, SID_A, {"channel": "event"})
    await refused(
        "unknown_message_id", chat.service.join(ALICE, SID_A, {"channel": "event", "last_id": team.id})
    )
    assert chat.fanout.is_subscribed(event_channel(ALICE.event_id), SID_A)
    ok = await chat.service.replay(ALICE, {"channel": "event", "after": mine.id})
    assert ok.items == [] and not ok.more
    await refused("malformed", chat.service.history(ALICE, {"channel": "event", "limit": 0}))
    await refused("malformed", chat.service.history(ALICE, {"channel": "event", "limit": "5"}))


async def test_reconnect_to_another_instance_after_a_long_absence(redis_client: aioredis.Redis) -> None:
    """A client on instance A goes away (A dies), many messages are written meanwhile, and it comes
    back on instance B with the last id it saw: it ends with every message, in order, once."""
    first = await make_instance(redis_client, name="dead-a")
    second = await make_instance(redis_client, name="live-b")
    try:
        client = Timeline()
        joined = await first.service.join(ALICE, SID_A, {"channel": "event"})
        client.apply([i.to_wire() for i in joined.items])
        sent = [await say(second, MIA, "event", f"early {i}") for i in range(5)]
        await wait_until(lambda: len(first.sink.items_for(SID_A)) == 5)
        client.apply(first.sink.items_for(SID_A))
        await first.fanout.stop()  # instance A is gone; nobody delivers to this client now
        sent += [await say(second, MIA, "event", f"while away {i}") for i in range(120)]
        await second.service.delete(ORG, {"channel": "event", "id": sent[2].id})

        taken = {SID_B: 0, SID_C: 0}

        def take_live(sid: RecipientId) -> None:
            """Apply the live batches that reached this socket since the last look."""
            items = second.sink.items_for(sid)
            client.apply(items[taken[sid] :])
            taken[sid] = len(items)

        async def rejoin(sid: RecipientId) -> None:
            resume = client.resume_id
            assert resume is not None
            client.begin_replay(resume)
            joined = await second.service.join(
                ALICE, sid, {"channel": "event", "last_id": resume, "limit": 30}
            )
            assert joined.mode == "replay"
            client.apply_replay([i.to_wire() for i in joined.items], joined.more)

        # Back, on instance B: the first replay page, while live messages keep coming.
        await rejoin(SID_B)
        sent += [await say(second, MIA, "event", f"live {i}") for i in range(5)]
        await wait_until(lambda: len(second.sink.items_for(SID_B)) == 5)
        take_live(SID_B)
        # Newer ids arrived live, but the replay is unfinished: resuming must not skip the middle.
        replaying_now, resume_now = client.is_replaying(), client.resume_id
        assert replaying_now and resume_now == client.replay_cursor != client.newest_id
        second.service.disconnected(SID_B)  # and the connection drops again, mid-replay
        await rejoin(SID_C)
        round_ = 0
        while client.is_replaying():
            sent.append(await say(second, MIA, "event", f"during replay {round_}"))
            round_ += 1
            take_live(SID_C)
            request = {"channel": "event", "after": client.replay_cursor, "limit": 30}
            page = await second.service.replay(ALICE, request)
            client.apply_replay([i.to_wire() for i in page.items], page.more)
        await wait_until(lambda: second.sink.timeline_for(SID_C).newest_id == sent[-1].id)
        take_live(SID_C)
        expected = [m.id for m in sent if m is not sent[2]]
        assert [m["id"] for m in client.messages] == expected
        assert round_ >= 3
    finally:
        await first.fanout.stop()
        await second.fanout.stop()


def _last(timeline: Timeline) -> MessageId:
    assert timeline.resume_id is not None
    return timeline.resume_id


async def test_conversation_across_a_redis_restart(tmp_path: Path) -> None:
    """Redis (AOF, fsync always) is killed and restarted mid-conversation. A reader that stayed
    connected and a reader that reconnects with its last id both end with exactly the messages
    sent, in order, without duplicates."""
    server = RedisServer(tmp_path)
    server.start()
    client = resilient_client(server.url)
    instance = await make_instance(client, name="restart-svc")
    try:
        staying, leaving = Timeline(), Timeline()
        for timeline, sid in ((staying, SID_A), (leaving, SID_B)):
            joined = await instance.service.join(ALICE, sid, {"channel": "event"})
            timeline.apply([i.to_wire() for i in joined.items])
        sent = [await say(instance, MIA, "event", f"before {i}") for i in range(10)]
        await wait_until(lambda: len(instance.sink.items_for(SID_B)) == 10)
        leaving.apply(instance.sink.items_for(SID_B))
        instance.service.disconnected(SID_B)
        server.stop(kill=True)
        server.start()
        sent += [await say(instance, MIA, "event", f"after {i}") for i in range(10)]
        last_id = _last(leaving)
        rejoin = await instance.service.join(ALICE, SID_C, {"channel": "event", "last_id": last_id})
        leaving.apply([i.to_wire() for i in rejoin.items])
        await wait_until(lambda: instance.sink.timeline_for(SID_A).newest_id == sent[-1].id)
        staying.apply(instance.sink.items_for(SID_A))
        await wait_until(lambda: instance.sink.timeline_for(SID_C).newest_id == sent[-1].id)
        leaving.apply(instance.sink.items_for(SID_C))
        expected = [m.id for m in sent]
        assert [m["id"] for m in staying.messages] == expected
        assert [m["id"] for m in leaving.messages] == expected
        assert staying.duplicates_dropped == 0
    finally:
        await instance.fanout.stop()
        await client.aclose()
        server.stop()


async def test_retried_sends_with_a_client_id_are_stored_once(
    chat: Instance, redis_client: aioredis.Redis
) -> None:
    first = await chat.service.send(ALICE, {"channel": "event", "text": "hi", "client_id": "c-1"})
    again = await chat.service.send(ALICE, {"channel": "event", "text": "hi", "client_id": "c-1"})
    other = await chat.service.send(MIA, {"channel": "event", "text": "hi", "client_id": "c-1"})
    assert again.id == first.id and other.id != first.id
    history = await chat.service.history(ALICE, {"channel": "event"})
    assert [m.id for m in history.items] == [first.id, other.id]
    await refused(
        "malformed", chat.service.send(ALICE, {"channel": "event", "text": "x", "client_id": "a b"})
    )
    await refused("malformed", chat.service.send(ALICE, {"channel": "event", "text": "x", "client_id": 5}))


async def test_a_writer_that_keeps_talking_through_a_redis_restart(tmp_path: Path) -> None:
    """Redis is killed and restarted while a participant keeps sending (retrying with its client
    id when told ``unavailable``): every message is stored exactly once, and both a connected
    reader and one that reconnects afterwards end with exactly those messages, in order."""
    server = RedisServer(tmp_path)
    server.start()
    client = resilient_client(server.url)
    # The tail gets a client without command retries: its own loop retries, reports and resumes.
    tail_client = aioredis.Redis.from_url(server.url)
    instance = await make_instance(client, name="restart-writer", tail_client=tail_client)
    sent: list[ChatMessage] = []
    total = 60

    async def writer() -> None:
        for i in range(total):
            while True:
                try:
                    request = {"channel": "event", "text": f"m{i}", "client_id": f"w{i}"}
                    sent.append(await instance.service.send(MIA, request))
                    break
                except ChatError as error:
                    assert error.code == "unavailable"
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.005)

    try:
        staying, leaving = Timeline(), Timeline()
        await instance.service.join(ALICE, SID_A, {"channel": "event"})
        await instance.service.join(ALICE, SID_B, {"channel": "event"})
        task = asyncio.create_task(writer())
        await wait_until(lambda: len(sent) >= 15)
        leaving.apply(instance.sink.items_for(SID_B))
        instance.service.disconnected(SID_B)
        server.stop(kill=True)
        server.start()
        await task
        last_id = leaving.resume_id
        request: dict[str, object] = {"channel": "event", "limit": 200}
        if last_id is not None:
            request["last_id"] = last_id
        rejoin = await instance.service.join(ALICE, SID_C, request)
        leaving.apply([i.to_wire() for i in rejoin.items])
        await wait_until(lambda: instance.sink.timeline_for(SID_A).newest_id == sent[-1].id)
        staying.apply(instance.sink.items_for(SID_A))
        leaving.apply(instance.sink.items_for(SID_C))
        expected = [m.id for m in sent]
        assert len(expected) == total
        assert [m["text"] for m in staying.messages] == [f"m{i}" for i in range(total)]
        assert [m["id"] for m in staying.messages] == expected
        assert [m["id"] for m in leaving.messages] == expected
        history = await instance.service.history(ALICE, {"channel": "event", "limit": 200})
        assert [m.id for m in history.items] == expected
        # The live tail really lived through the restart (it failed at least one read).
        failures = REGISTRY.get_sample_value(
            "venuekit_chat_listener_failures_total", {"instance": "restart-writer"}
        )
        assert failures is not None and failures >= 1
    finally:
        await instance.fanout.stop()
        await client.aclose()
        await tail_client.aclose()
        server.stop()


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_messages_batches_and_latency(chat: Instance) -> None:
    names = ("messages_in", "messages_out", "delivery_batches", "recipient_deliveries")
    before = {n: _sample(f"venuekit_chat_{n}_total", {"kind": "team"}) for n in names}
    latency_before = _sample("venuekit_chat_fanout_latency_seconds_count", {})
    await chat.service.join(MIA, SID_A, {"channel": "team:t1"})
    await chat.service.join(ORG, SID_B, {"channel": "team:t1"})
    for i in range(3):
        await say(chat, MIA, "team:t1", f"m{i}")
    await wait_until(lambda: len(chat.sink.items_for(SID_B)) == 3)
    after = {n: _sample(f"venuekit_chat_{n}_total", {"kind": "team"}) for n in names}
    batches = after["delivery_batches"] - before["delivery_batches"]
    assert after["messages_in"] - before["messages_in"] == 3
    assert after["messages_out"] - before["messages_out"] == 3
    assert 1 <= batches <= 3
    assert after["recipient_deliveries"] - before["recipient_deliveries"] == 6
    assert _sample("venuekit_chat_fanout_latency_seconds_count", {}) - latency_before == 3
    assert _sample("venuekit_chat_tailed_channels", {"instance": chat.fanout.instance_id}) == 1


async def test_the_join_hook_runs_between_subscribe_and_read(chat: Instance) -> None:
    """A transport enters the socket's room in the hook; a message stored at that moment is in
    the replay or comes live, and a refused join never reaches the hook."""
    seen: list[str] = []
    written: list[ChatMessage] = []

    async def hook(channel: Channel) -> None:
        assert chat.fanout.is_subscribed(channel, SID_A)
        seen.append(channel.name)
        written.append(await say(chat, MIA, channel.name, "sent while joining"))

    before = await say(chat, MIA, "team:t1", "before")
    await refused(
        "channel_not_found", chat.service.join(OTTO, SID_C, {"channel": "team:t1"}, on_subscribed=hook)
    )
    assert seen == []
    joined = await chat.service.join(
        MIA, SID_A, {"channel": "team:t1", "last_id": before.id}, on_subscribed=hook
    )
    assert seen == ["team:t1"]
    timeline = Timeline()
    timeline.apply([before.to_wire()])
    timeline.begin_replay(before.id)
    timeline.apply_replay([i.to_wire() for i in joined.items], joined.more)
    after = await say(chat, MIA, "team:t1", "after")
    await wait_until(lambda: chat.sink.timeline_for(SID_A).newest_id == after.id)
    timeline.apply(chat.sink.items_for(SID_A))
    assert [m["id"] for m in timeline.messages] == [before.id, written[0].id, after.id]
