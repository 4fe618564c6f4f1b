"""The chat store: the contract both twins keep (fixture ``store``), and Redis-only behaviour."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from chat import keys
from chat.channels import event_channel, team_channel
from chat.errors import ChatError
from chat.grants import Role
from chat.ids import MessageId, ParticipantId
from chat.memory_store import MemoryChatStore
from chat.model import ChatMessage, LockChanged, MessageDeleted
from chat.retention import Retention
from chat.store import ChatStore
from tests.chat.helpers import EVENT, grants, resilient_client
from tests.support.redis_server import RedisServer

NOW_MS = 1_800_000_000_000
AnyStore = ChatStore | MemoryChatStore


@pytest.fixture(params=["redis", "memory"])
async def store(request: pytest.FixtureRequest, redis_client: aioredis.Redis) -> AnyStore:
    """Both twins: the cases that take this fixture are the store contract."""
    if request.param == "redis":
        return ChatStore(redis_client)
    return MemoryChatStore()


MAIN = event_channel(EVENT)
ALICE = grants("alice")
ORG = grants("org", Role.ORGANISER)
OLD_FIELDS: dict[Any, Any] = {
    "k": "m",
    "s": "a",
    "n": "A",
    "r": "attendee",
    "t": "old",
}


async def _send(store: AnyStore, n: int, prefix: str = "m") -> list[ChatMessage]:
    return [await store.append_message(MAIN, ALICE, f"{prefix}{i}", NOW_MS) for i in range(n)]


async def test_append_assigns_increasing_server_ids_and_keeps_sender(store: AnyStore) -> None:
    sent = await _send(store, 3)
    assert [m.text for m in sent] == ["m0", "m1", "m2"]
    assert sorted(sent, key=lambda m: (m.ts_ms, m.id)) == sent
    assert len({m.id for m in sent}) == 3
    assert all(m.sender_id == "alice" and m.sender_name == "Name alice" for m in sent)
    page = await store.history(MAIN, None, 10)
    assert page.messages == sent and not page.more


async def test_history_pages_backwards(store: AnyStore) -> None:
    sent = await _send(store, 25)
    seen: list[ChatMessage] = []
    before: MessageId | None = None
    while True:
        page = await store.history(MAIN, before, 10)
        seen = page.messages + seen
        if not page.more:
            break
        before = page.messages[0].id
    assert seen == sent


async def test_history_skips_tombstones_and_deleted(store: AnyStore) -> None:
    sent = await _send(store, 6)
    for message in sent[1:5]:
        await store.delete_message(MAIN, message.id, ORG.participant_id)
    await store.set_locked(MAIN, True, ORG.participant_id)
    page = await store.history(MAIN, None, 1)
    assert page.messages == [sent[5]] and page.more
    page = await store.history(MAIN, page.messages[0].id, 5)
    assert page.messages == [sent[0]] and not page.more


async def test_retention_by_length_is_approximate_but_bounded(store: AnyStore) -> None:
    await store.set_retention(EVENT, Retention(max_len=50, max_age_ms=0))
    await _send(store, 400)
    length = len((await store.history(MAIN, None, 500)).messages)
    assert 50 <= length < 400
    assert (await store.retention(EVENT)).max_len == 50


async def test_retention_by_age_trims_and_expires(redis_client: aioredis.Redis) -> None:
    store = ChatStore(redis_client)
    stream = keys.stream_key(MAIN)
    # Entries "from an hour ago": written with explicit ids, as if stored then.
    old_ms = int(time.time() * 1000) - 3_600_000
    for i in range(5):
        await redis_client.xadd(
            stream, {"k": "m", "s": "a", "n": "A", "r": "attendee", "t": "old"}, id=f"{old_ms}-{i}"
        )
    await store.set_retention(EVENT, Retention(max_len=0, max_age_ms=60_000))
    fresh = await store.append_message(MAIN, ALICE, "fresh", NOW_MS)
    page = await store.history(MAIN, None, 10)
    assert page.messages == [fresh]
    ttl_ms = await redis_client.pttl(stream)
    assert 0 < ttl_ms <= 60_000


async def test_read_after_returns_everything_newer_including_tombstones(store: AnyStore) -> None:
    sent = await _send(store, 5)
    deleted = await store.delete_message(MAIN, sent[3].id, ORG.participant_id)
    page = await store.read_after(MAIN, sent[1].id, 100)
    assert page.items == [sent[2], sent[4], deleted]
    assert not page.more and not page.truncated
    # The deleted message's id is still a valid place to resume from.
    page = await store.read_after(MAIN, sent[3].id, 100)
    assert page.items == [sent[4], deleted]
    page = await store.read_after(MAIN, sent[0].id, 2)
    assert page.items == [sent[1], sent[2]] and page.more


async def test_read_after_refuses_ids_not_of_this_channel(store: AnyStore) -> None:
    team = team_channel(EVENT, "t1")
    member = grants("bob", teams=("t1",))
    mine: list[ChatMessage] = []
    theirs: list[ChatMessage] = []
    for i in range(3):
        mine.append(await store.append_message(MAIN, ALICE, f"a{i}", NOW_MS))
        theirs.append(await store.append_message(team, member, f"t{i}", NOW_MS))
    for foreign in (theirs[0].id, theirs[1].id, theirs[2].id):
        with pytest.raises(ChatError) as err:
            await store.read_after(MAIN, foreign, 10)
        assert err.value.code == "unknown_message_id"
    last = mine[-1].id
    ms = last.split("-")[0]
    with pytest.raises(ChatError, match="unknown_message_id"):
        await store.read_after(MAIN, MessageId(f"{int(ms) + 10_000}-0"), 10)
    with pytest.raises(ChatError, match="unknown_message_id"):
        await store.read_after(team_channel(EVENT, "empty"), last, 10)


async def test_read_after_an_id_older_than_retention_is_truncated(redis_client: aioredis.Redis) -> None:
    store = ChatStore(redis_client)
    await store.set_retention(EVENT, Retention(max_len=0, max_age_ms=60_000))
    stream = keys.stream_key(MAIN)
    old_id = f"{int(time.time() * 1000) - 3_600_000}-0"
    await redis_client.xadd(stream, OLD_FIELDS, id=old_id)
    fresh = await store.append_message(MAIN, ALICE, "fresh", NOW_MS)
    page = await store.read_after(MAIN, MessageId(old_id), 10)
    assert page.truncated and page.items == [fresh]


async def test_lock_refuses_non_organisers_and_is_announced(store: AnyStore) -> None:
    change = await store.set_locked(MAIN, True, ORG.participant_id)
    assert isinstance(change, LockChanged) and change.locked
    with pytest.raises(ChatError) as err:
        await store.append_message(MAIN, ALICE, "hi", NOW_MS)
    assert err.value.code == "channel_locked"
    assert (await store.history(MAIN, None, 10)).messages == []
    by_org = await store.append_message(MAIN, ORG, "announcement", NOW_MS)
    assert (await store.moderation_state(MAIN, NOW_MS)).locked
    await store.set_locked(MAIN, False, ORG.participant_id)
    after = await store.append_message(MAIN, ALICE, "hi", NOW_MS)
    assert [m.text for m in (await store.history(MAIN, None, 10)).messages] == ["announcement", "hi"]
    assert by_org.id < after.id or by_org.ts_ms <= after.ts_ms


async def test_mute_until_and_unmute(store: AnyStore) -> None:
    alice = ParticipantId("alice")
    await store.mute(MAIN, alice, NOW_MS + 5_000)
    with pytest.raises(ChatError) as err:
        await store.append_message(MAIN, ALICE, "hi", NOW_MS)
    assert err.value.code == "muted" and err.value.retry_after_ms == 5_000
    assert (await store.moderation_state(MAIN, NOW_MS)).muted_until_ms == {alice: NOW_MS + 5_000}
    # The mute ends by itself.
    await store.append_message(MAIN, ALICE, "later", NOW_MS + 5_001)
    await store.mute(MAIN, alice, 0)
    with pytest.raises(ChatError) as err:
        await store.append_message(MAIN, ALICE, "hi", NOW_MS + 10**9)
    assert err.value.retry_after_ms is None
    await store.append_message(MAIN, grants("bob"), "others still talk", NOW_MS)
    await store.unmute(MAIN, alice)
    await store.append_message(MAIN, ALICE, "back", NOW_MS)


async def test_delete_needs_a_message_of_this_channel(store: AnyStore) -> None:
    sent = await _send(store, 2)
    tombstone = await store.delete_message(MAIN, sent[0].id, ORG.participant_id)
    assert isinstance(tombstone, MessageDeleted) and tombstone.target_id == sent[0].id
    for bad in (sent[0].id, tombstone.id, MessageId("1-0")):
        with pytest.raises(ChatError, match="unknown_message_id"):
            await store.delete_message(MAIN, bad, ORG.participant_id)
    with pytest.raises(ChatError, match="unknown_message_id"):
        await store.delete_message(team_channel(EVENT, "t1"), sent[1].id, ORG.participant_id)


async def test_unavailable_redis_is_a_structured_error(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    client = aioredis.Redis.from_url(server.url)
    try:
        store = ChatStore(client)
        await store.append_message(MAIN, ALICE, "before", NOW_MS)
        server.stop(kill=True)
        with pytest.raises(ChatError) as err:
            await store.append_message(MAIN, ALICE, "during", NOW_MS)
        assert err.value.code == "unavailable"
    finally:
        await client.aclose()
        server.stop()


async def test_history_and_replay_survive_a_redis_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    client = resilient_client(server.url)
    try:
        store = ChatStore(client)
        before = await _send(store, 5, "before")
        await store.delete_message(MAIN, before[2].id, ORG.participant_id)
        server.stop(kill=True)
        server.start()
        after = await _send(store, 3, "after")
        assert all(a.id > before[-1].id or a.ts_ms >= before[-1].ts_ms for a in after)
        page = await store.history(MAIN, None, 100)
        expected = [m for m in before if m is not before[2]] + after
        assert page.messages == expected
        replay = await store.read_after(MAIN, before[2].id, 100)
        assert [i for i in replay.items if isinstance(i, ChatMessage)] == before[3:] + after
    finally:
        await client.aclose()
        server.stop()


async def test_every_key_of_an_event_shares_its_hash_tag(redis_client: aioredis.Redis) -> None:
    store = ChatStore(redis_client)
    team = team_channel(EVENT, "t1")
    sent = await store.append_message(team, ORG, "x", NOW_MS, client_id="c1")
    await store.delete_message(team, sent.id, ORG.participant_id)
    await store.set_locked(team, True, ORG.participant_id)
    await store.mute(team, ParticipantId("alice"), 0)
    await store.set_retention(EVENT, Retention(max_len=10, max_age_ms=60_000))
    stored = [key.decode() if isinstance(key, bytes) else key for key in await redis_client.keys("*")]
    assert len(stored) >= 6
    assert all(key.startswith("vk:chat:{evt1}:") for key in stored)


async def test_empty_channel_history_and_paging_from_a_deleted_id(store: AnyStore) -> None:
    page = await store.history(MAIN, None, 10)
    assert page.messages == [] and not page.more
    sent = await _send(store, 4)
    await store.delete_message(MAIN, sent[2].id, ORG.participant_id)
    page = await store.history(MAIN, sent[2].id, 10)
    assert page.messages == sent[:2]
    assert await store.last_id(MAIN) > sent[3].id


async def test_a_client_id_makes_an_append_idempotent(store: AnyStore) -> None:
    first = await store.append_message(MAIN, ALICE, "once", NOW_MS, client_id="abc")
    again = await store.append_message(MAIN, ALICE, "once", NOW_MS, client_id="abc")
    other_sender = await store.append_message(MAIN, grants("bob"), "once", NOW_MS, client_id="abc")
    team = team_channel(EVENT, "t1")
    other_channel = await store.append_message(team, ORG, "once", NOW_MS, client_id="abc")
    assert again.id == first.id
    assert len({first.id, other_sender.id, other_channel.id}) == 3
    assert [m.id for m in (await store.history(MAIN, None, 10)).messages] == [first.id, other_sender.id]
    # A stored retry is answered even if the channel was locked since (the message is in).
    await store.set_locked(MAIN, True, ORG.participant_id)
    assert (await store.append_message(MAIN, ALICE, "once", NOW_MS, client_id="abc")).id == first.id
