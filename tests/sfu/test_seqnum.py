"""Wraparound maths on 16-bit sequence numbers and 32-bit timestamps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.seqnum import SEQ_MOD, TS_MOD, Unwrapper, seq_add, seq_diff, seq_gt, ts_add, ts_diff, ts_gt

seqs = st.integers(0, SEQ_MOD - 1)
tss = st.integers(0, TS_MOD - 1)


def test_seq_wraps() -> None:
    assert seq_add(65535, 1) == 0
    assert seq_add(0, -1) == 65535
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_gt(0, 65535)
    assert not seq_gt(65535, 0)
    assert seq_diff(32768, 0) == -32768  # exactly half: ambiguous, counted as behind


def test_ts_wraps() -> None:
    assert ts_add(TS_MOD - 1, 2) == 1
    assert ts_diff(1, TS_MOD - 1) == 2
    assert ts_gt(5, TS_MOD - 5)


@settings(deadline=None)
@given(seqs, st.integers(-32768, 32767))
def test_seq_add_then_diff_roundtrips(a: int, delta: int) -> None:
    assert seq_diff(seq_add(a, delta), a) == delta


@settings(deadline=None)
@given(tss, st.integers(-(1 << 31), (1 << 31) - 1))
def test_ts_add_then_diff_roundtrips(a: int, delta: int) -> None:
    assert ts_diff(ts_add(a, delta), a) == delta


@settings(deadline=None)
@given(seqs, seqs)
def test_seq_gt_is_antisymmetric(a: int, b: int) -> None:
    assert not (seq_gt(a, b) and seq_gt(b, a))


def test_unwrapper_extends_across_wrap() -> None:
    u = Unwrapper(16)
    assert [u.unwrap(s) for s in (65534, 65535, 0, 1)] == [65534, 65535, 65536, 65537]
    assert u.unwrap(65535) == 65535  # late packet maps below the highest
    assert u.highest == 65537


def test_unwrapper_can_go_below_first() -> None:
    u = Unwrapper(16)
    assert u.unwrap(0) == 0
    assert u.unwrap(65535) == -1
    assert u.highest == 0


@settings(deadline=None)
@given(seqs, st.lists(st.integers(-3000, 3000), max_size=200))
def test_unwrapper_tracks_true_counter(start: int, steps: list[int]) -> None:
    """Feeding a counter that moves by less than half the space is recovered exactly."""
    u = Unwrapper(16)
    true_value = start
    assert u.unwrap(start) == start
    highest = start
    for step in steps:
        # keep every value within half a space of the highest so the mapping is unambiguous
        candidate = true_value + step
        if abs(candidate - highest) >= 32768:
            continue
        true_value = candidate
        assert u.unwrap(true_value % SEQ_MOD) == true_value
        highest = max(highest, true_value)
        assert u.highest == highest
