"""The per-participant rate limit (pure in now_ms)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chat.ratelimit import RateDecision, RateLimiter, RatePolicy, decide


def test_burst_then_one_per_interval_with_exact_retry_after() -> None:
    limiter = RateLimiter(RatePolicy(burst=3, interval_ms=1000))
    assert [limiter.take("a", 0).allowed for _ in range(3)] == [True, True, True]
    assert limiter.take("a", 0) == RateDecision(False, 1000)
    assert limiter.take("a", 400) == RateDecision(False, 600)
    assert limiter.take("a", 1000).allowed
    assert limiter.take("a", 1000) == RateDecision(False, 1000)
    assert limiter.take("b", 1000).allowed  # keys are independent
    # After a long quiet time the full burst is back, not more.
    assert [limiter.take("a", 100_000).allowed for _ in range(4)] == [True, True, True, False]


def test_refused_sends_do_not_push_the_retry_time() -> None:
    limiter = RateLimiter(RatePolicy(burst=1, interval_ms=500))
    assert limiter.take("a", 0).allowed
    for now in range(0, 500, 50):
        assert limiter.take("a", now) == RateDecision(False, 500 - now)
    assert limiter.take("a", 500).allowed


def test_table_prunes_full_buckets() -> None:
    limiter = RateLimiter(RatePolicy(burst=2, interval_ms=10), prune_above=100)
    for i in range(150):
        limiter.take(i, 0)
    assert len(limiter) == 150  # all still refilling at t=0
    for i in range(250):
        limiter.take(f"late{i}", 10_000)
    # The 150 early keys were full again by t=10000 and got pruned.
    assert len(limiter) == 250
    assert not any(isinstance(key, int) for key in limiter._tat_ms)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(1, 2000),
    st.lists(st.integers(0, 3000), min_size=1, max_size=60),
)
def test_never_more_than_burst_plus_elapsed_intervals(burst: int, interval_ms: int, gaps: list[int]) -> None:
    limiter = RateLimiter(RatePolicy(burst=burst, interval_ms=interval_ms))
    now = 0
    accepted: list[int] = []
    for gap in gaps:
        now += gap
        decision = limiter.take("k", now)
        if decision.allowed:
            accepted.append(now)
        else:
            assert 0 < decision.retry_after_ms <= interval_ms
            state = limiter._tat_ms["k"]
            policy = limiter.policy
            assert not decide(state, now + decision.retry_after_ms - 1, policy)[0].allowed
            assert decide(state, now + decision.retry_after_ms, policy)[0].allowed
    # In any span of time T, at most burst + T // interval sends pass.
    for i, start in enumerate(accepted):
        for j in range(i, len(accepted)):
            assert j - i + 1 <= burst + (accepted[j] - start) // interval_ms
