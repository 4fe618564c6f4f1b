"""ChatService on the in-memory store twin with a hand-written subscription fake: no network."""

from __future__ import annotations

import pytest

from chat.channels import Channel
from chat.errors import ChatError
from chat.grants import Role
from chat.ids import RecipientId
from chat.memory_store import MemoryChatStore
from chat.ratelimit import RatePolicy
from chat.service import ChatService
from tests.chat.helpers import grants

ALICE = grants("alice")
MIA = grants("mia", teams=("t1",))
OTTO = grants("otto")
ORG = grants("org", Role.ORGANISER)


class FakeSubscriptions:
    def __init__(self) -> None:
        self.members: set[tuple[str, RecipientId]] = set()
        self.log: list[str] = []

    async def subscribe(self, channel: Channel, recipient: RecipientId) -> None:
        self.log.append(f"subscribe {channel.name}")
        self.members.add((channel.name, recipient))

    def unsubscribe(self, channel: Channel, recipient: RecipientId) -> None:
        self.members.discard((channel.name, recipient))

    def unsubscribe_all(self, recipient: RecipientId) -> None:
        self.members = {m for m in self.members if m[1] != recipient}

    def is_subscribed(self, channel: Channel, recipient: RecipientId) -> bool:
        return (channel.name, recipient) in self.members


class Clock:
    now_ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now_ms


def service(clock: Clock | None = None) -> tuple[ChatService, FakeSubscriptions]:
    subscriptions = FakeSubscriptions()
    clock = clock or Clock()
    store = MemoryChatStore(clock_ms=clock)
    return ChatService(
        store, subscriptions, rate=RatePolicy(burst=2, interval_ms=1000), clock_ms=clock
    ), subscriptions


async def test_join_subscribes_before_it_reads_and_returns_history() -> None:
    chat, subscriptions = service()
    for text in ("one", "two"):
        await chat.send(MIA, {"channel": "team:t1", "text": text})
    joined = await chat.join(MIA, RecipientId("s1"), {"channel": "team:t1", "limit": 1})
    assert [m.to_wire()["text"] for m in joined.items] == ["two"] and joined.more
    assert subscriptions.log == ["subscribe team:t1"]
    chat.disconnected(RecipientId("s1"))
    assert subscriptions.members == set()


async def test_team_privacy_and_rate_limit_without_redis() -> None:
    clock = Clock()
    chat, subscriptions = service(clock)
    with pytest.raises(ChatError) as err:
        await chat.join(OTTO, RecipientId("s2"), {"channel": "team:t1"})
    assert err.value.code == "channel_not_found" and subscriptions.log == []
    await chat.send(ALICE, {"channel": "event", "text": "a"})
    await chat.send(ALICE, {"channel": "event", "text": "b"})
    with pytest.raises(ChatError) as err:
        await chat.send(ALICE, {"channel": "event", "text": "c"})
    assert err.value.code == "rate_limited" and err.value.retry_after_ms == 1000
    clock.now_ms += 1000
    await chat.send(ALICE, {"channel": "event", "text": "c"})


async def test_moderation_on_the_memory_twin() -> None:
    chat, _ = service()
    spam = await chat.send(ALICE, {"channel": "event", "text": "spam"})
    await chat.delete(ORG, {"channel": "event", "id": spam.id})
    await chat.lock(ORG, {"channel": "event", "locked": True})
    with pytest.raises(ChatError) as err:
        await chat.send(ALICE, {"channel": "event", "text": "hi"})
    assert err.value.code == "channel_locked"
    page = await chat.replay(ALICE, {"channel": "event", "after": spam.id})
    assert [item.to_wire()["type"] for item in page.items] == ["deleted", "locked"]
    assert (await chat.history(ALICE, {"channel": "event"})).items == []
