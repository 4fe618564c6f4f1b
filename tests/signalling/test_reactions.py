"""ReactionAggregator: per-participant rate limit and once-per-window bursts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from signalling.ids import ParticipantId, SpaceId
from signalling.kinds import ReactionKind
from signalling.reactions import Burst, ReactionAggregator

P, Q = ParticipantId("p"), ParticipantId("q")
S = SpaceId("s")


def test_rate_limit_is_a_sliding_window() -> None:
    agg = ReactionAggregator(max_per_participant=2, rate_window_ms=1000)
    assert agg.offer(P, S, ReactionKind.CLAP, 0)
    assert agg.offer(P, S, ReactionKind.CLAP, 10)
    assert not agg.offer(P, S, ReactionKind.CLAP, 999)
    assert agg.offer(Q, S, ReactionKind.CLAP, 999)
    assert agg.offer(P, S, ReactionKind.CLAP, 1000)


def test_flush_waits_for_the_window_and_then_empties() -> None:
    agg = ReactionAggregator(flush_interval_ms=1000)
    agg.offer(P, S, ReactionKind.TADA, 100)
    agg.offer(Q, S, ReactionKind.CLAP, 600)
    assert agg.flush(1099) == []
    assert agg.flush(1100) == [Burst(S, ((ReactionKind.CLAP, 1), (ReactionKind.TADA, 1)), 1100)]
    assert agg.flush(5000) == []


def test_discard_space_drops_pending() -> None:
    agg = ReactionAggregator()
    agg.offer(P, S, ReactionKind.TADA, 0)
    agg.discard_space(S)
    assert agg.flush(10_000) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([P, Q]), st.integers(0, 50)), max_size=60))
def test_counts_are_conserved_and_limits_hold(offers: list[tuple[ParticipantId, int]]) -> None:
    agg = ReactionAggregator(max_per_participant=3, rate_window_ms=100, flush_interval_ms=100)
    now_ms = 0
    accepted = 0
    emitted = 0
    accepted_at: dict[ParticipantId, list[int]] = {P: [], Q: []}
    for participant_id, step_ms in offers:
        now_ms += step_ms
        if agg.offer(participant_id, S, ReactionKind.HEART, now_ms):
            accepted += 1
            accepted_at[participant_id].append(now_ms)
        emitted += sum(count for burst in agg.flush(now_ms) for _, count in burst.counts)
    emitted += sum(count for burst in agg.flush(now_ms + 100) for _, count in burst.counts)
    assert emitted == accepted
    for times in accepted_at.values():
        for i in range(len(times) - 3):
            assert times[i + 3] - times[i] >= 100
