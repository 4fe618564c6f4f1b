"""Hypothesis fuzz of sending against a real Redis: every payload is either stored exactly as
validated or refused with a documented code, and a refusal stores nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, get_args

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import keys
from chat.channels import parse_channel
from chat.errors import ChatError, ErrorCode
from chat.fanout import FanoutEngine
from chat.grants import Role
from chat.ids import MessageId
from chat.ratelimit import RatePolicy
from chat.service import ChatService
from chat.store import ChatStore
from chat.validation import TextLimits, id_key, parse_message_id, validate_text
from tests.chat.helpers import EVENT, grants
from tests.chat.support import RecordingSink
from tests.support.redis_server import RedisServer

LIMITS = TextLimits(max_chars=60, max_bytes=120)
SENDERS = [
    grants("alice", teams=("t1",), spaces=("stage",)),
    grants("org", Role.ORGANISER),
    grants("spk", Role.SPEAKER, spaces=("*",)),
]
CHANNELS = [
    "event",
    "space:stage",
    "space:room",
    "team:t1",
    "team:t2",
    "dm:alice:org",
    "dm:bob:carl",
    "dm:b:a",
]

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
readable = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc"]), min_size=1, max_size=70)
texts = st.one_of(
    readable,
    readable,
    st.text(max_size=80),
    st.sampled_from(["", " ", "\n\t", "ok", "a\x00b", "x\u2028y", "\ud83d", "é" * 61]),
    json_values,
)
known_channels = st.sampled_from(CHANNELS)
channels = st.one_of(known_channels, known_channels, known_channels, json_values)
message_shape = st.fixed_dictionaries({"channel": channels, "text": texts})
well_shaped = st.fixed_dictionaries({"channel": known_channels, "text": texts})
payloads = st.one_of(
    message_shape,
    message_shape,
    message_shape,
    st.fixed_dictionaries({"channel": channels, "text": texts}, optional={"extra": json_values}),
    st.fixed_dictionaries({"text": texts}),
    json_values,
)


async def _flush(client: aioredis.Redis) -> None:
    await client.flushall()


@pytest.mark.parametrize(
    ("strategy", "min_stored", "min_refusal_kinds"),
    [(well_shaped, 20, 4), (payloads, 1, 5)],
    ids=["well-shaped", "anything"],
)
def test_random_sends_store_exactly_what_validation_allows(
    redis_server: RedisServer, strategy: st.SearchStrategy[object], min_stored: int, min_refusal_kinds: int
) -> None:
    with asyncio.Runner() as runner:
        client = aioredis.Redis.from_url(redis_server.url)
        sink = RecordingSink()
        fanout = FanoutEngine(client, sink)
        runner.run(fanout.start())
        store = ChatStore(client)
        service = ChatService(store, fanout, rate=RatePolicy(burst=10**6, interval_ms=1), text_limits=LIMITS)
        runner.run(_flush(client))
        codes = set(get_args(ErrorCode))
        outcomes: Counter[str] = Counter()

        async def key_count() -> int:
            return int(await client.dbsize())

        async def total_entries() -> int:
            lengths = [
                await client.xlen(keys.stream_key(parse_channel(EVENT, name))) for name in CHANNELS[:6]
            ]
            return sum(lengths)

        @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(sender=st.sampled_from(SENDERS), payload=strategy)
        def check(sender: Any, payload: object) -> None:
            before = runner.run(total_entries())
            keys_before = runner.run(key_count())
            try:
                message = runner.run(service.send(sender, payload))
            except ChatError as error:
                assert error.code in codes and error.message
                outcomes[error.code] += 1
                assert runner.run(total_entries()) == before
                assert runner.run(key_count()) == keys_before
                return
            outcomes["stored"] += 1
            assert isinstance(payload, dict) and set(payload) == {"channel", "text"}
            assert message.text == validate_text(payload["text"], LIMITS)
            assert message.sender_id == sender.participant_id
            assert runner.run(total_entries()) == before + 1
            channel = parse_channel(EVENT, payload["channel"])
            stored = runner.run(store.history(channel, None, 1)).messages
            assert stored == [message]

        try:
            check()
            # The generator reaches both sides: stored messages and many kinds of refusal.
            assert outcomes["stored"] >= min_stored
            assert len(set(outcomes) - {"stored"}) >= min_refusal_kinds
        finally:
            runner.run(fanout.stop())
            runner.run(client.aclose())


def test_random_replay_ids_are_accepted_only_when_they_belong_to_the_channel(
    redis_server: RedisServer,
) -> None:
    main = parse_channel(EVENT, "event")
    team = parse_channel(EVENT, "team:t1")
    member, organiser = SENDERS[0], SENDERS[1]
    with asyncio.Runner() as runner:
        client = aioredis.Redis.from_url(redis_server.url)
        runner.run(_flush(client))
        store = ChatStore(client)

        async def setup() -> tuple[list[MessageId], list[MessageId]]:
            own: list[MessageId] = []
            foreign: list[MessageId] = []
            for i in range(20):
                own.append((await store.append_message(main, member, f"m{i}", 0)).id)
                foreign.append((await store.append_message(team, member, f"t{i}", 0)).id)
            own.append((await store.delete_message(main, own[3], organiser.participant_id)).id)
            own.append((await store.set_locked(main, True, organiser.participant_id)).id)
            return own, foreign

        own, foreign = runner.run(setup())
        first_ms = int(own[0].split("-")[0])
        ids = st.one_of(
            st.sampled_from(own),
            st.sampled_from(foreign),
            st.builds(
                lambda ms, seq: f"{ms}-{seq}", st.integers(first_ms - 5, first_ms + 5_000), st.integers(0, 30)
            ),
            st.text(max_size=25),
        )

        @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(raw=ids)
        def check(raw: str) -> None:
            try:
                after = parse_message_id(raw)
            except ChatError as error:
                assert error.code == "bad_message_id"
                return
            try:
                page = runner.run(store.read_after(main, after, 100))
            except ChatError as error:
                assert error.code == "unknown_message_id"
                assert after not in own
                return
            assert after in own or id_key(after) < id_key(MessageId(own[0]))
            assert after not in foreign
            assert all(id_key(item.id) > id_key(after) for item in page.items)

        try:
            check()
        finally:
            runner.run(client.aclose())
