"""The per-subscriber RTP munger: continuity of sequence numbers and timestamps."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.munger import RtpMunger
from sfu.seqnum import SEQ_MASK, TS_MASK, seq_diff, ts_diff

CLOCK = 90000


def make(first_seq: int = 1000, first_ts: int = 5000) -> RtpMunger:
    return RtpMunger(CLOCK, first_sequence_number=first_seq, first_timestamp=first_ts)


def test_first_packet_lands_on_the_chosen_start() -> None:
    m = make()
    out = m.munge("a", 40000, 123456, now=0.0)
    assert out is not None
    assert (out.sequence_number, out.timestamp) == (1000, 5000)
    assert m.started


def test_contiguous_stream_keeps_spacing() -> None:
    m = make()
    outs = [m.munge("a", 40000 + i, 123456 + 3000 * i, now=i / 30) for i in range(5)]
    assert [o.sequence_number for o in outs if o] == [1000, 1001, 1002, 1003, 1004]
    assert [o.timestamp for o in outs if o] == [5000 + 3000 * i for i in range(5)]


def test_input_wraparound_is_continuous() -> None:
    m = make(first_seq=10)
    outs = [
        m.munge("a", s, (TS_MASK - 2999 + 3000 * i) & TS_MASK, now=i * 0.033)
        for i, s in enumerate((65534, 65535, 0, 1))
    ]
    assert [o.sequence_number for o in outs if o] == [10, 11, 12, 13]
    assert [o.timestamp for o in outs if o] == [5000, 8000, 11000, 14000]


def test_output_wraparound() -> None:
    m = make(first_seq=65534, first_ts=TS_MASK - 1000)
    outs = [m.munge("a", 100 + i, 3000 * i, now=0.0) for i in range(4)]
    assert [o.sequence_number for o in outs if o] == [65534, 65535, 0, 1]
    assert [o.timestamp for o in outs if o] == [TS_MASK - 1000, 1999, 4999, 7999]


def test_loss_is_preserved_so_the_subscriber_can_nack() -> None:
    m = make()
    a = m.munge("a", 100, 0, 0.0)
    b = m.munge("a", 103, 9000, 0.1)
    assert a is not None and b is not None
    assert seq_diff(b.sequence_number, a.sequence_number) == 3


def test_reordered_packet_keeps_its_place() -> None:
    m = make()
    m.munge("a", 100, 0, 0.0)
    late = m.munge("a", 102, 0, 0.01)
    early = m.munge("a", 101, 0, 0.02)
    assert late is not None and early is not None
    assert (early.sequence_number, late.sequence_number) == (1001, 1002)
    assert m.last_sequence_number == 1002


def test_packet_from_before_the_segment_is_dropped() -> None:
    m = make()
    assert m.munge("a", 100, 0, 0.0) is not None
    assert m.munge("a", 99, 0, 0.01) is None


def test_switch_continues_sequence_and_advances_time() -> None:
    m = make()
    for i in range(3):
        m.munge("a", 100 + i, 1000 + 3000 * i, now=i * 0.033)
    last_ts = m.last_timestamp
    out = m.munge("b", 50000, 777, now=0.066 + 0.5)  # half a second later, another source
    assert out is not None
    assert out.sequence_number == 1003
    assert ts_diff(out.timestamp, last_ts) == round(0.5 * CLOCK)
    nxt = m.munge("b", 50001, 777 + 3000, now=0.6)
    assert nxt is not None
    assert (nxt.sequence_number, ts_diff(nxt.timestamp, out.timestamp)) == (1004, 3000)


def test_switch_at_same_instant_still_advances_timestamp() -> None:
    m = make()
    m.munge("a", 1, 0, now=1.0)
    out = m.munge("b", 9, 0, now=1.0)
    assert out is not None
    assert ts_diff(out.timestamp, 5000) == 1


def test_pause_resume_skips_nothing_in_output() -> None:
    m = make()
    for i in range(3):
        m.munge("a", 10 + i, 3000 * i, now=i * 0.033)
    # paused: upstream packets 13..299 are not forwarded; then resync
    m.resync()
    out = m.munge("a", 300, 3000 * 290, now=10.0)
    assert out is not None
    assert out.sequence_number == 1003
    assert ts_diff(out.timestamp, 5000 + 6000) == round((10.0 - 0.066) * CLOCK)
    # late packet from before the pause is not sent
    assert m.munge("a", 12, 6000, now=10.01) is None


def test_nack_mapping_roundtrips_and_ignores_old_segments() -> None:
    m = make()
    for i in range(5):
        m.munge("a", 65533 + i, 0, now=0.0)  # wraps upstream
    assert m.original_sequence_number(1000) == 65533
    assert m.original_sequence_number(1004) == 1
    assert m.original_sequence_number(1005) is None  # not sent yet
    m.munge("b", 7, 0, now=1.0)
    assert m.original_sequence_number(1005) == 7
    assert m.original_sequence_number(1004) is None  # previous segment
    m.resync()
    assert m.original_sequence_number(1005) is None


def test_translate_timestamp_follows_offset() -> None:
    m = make()
    m.munge("a", 1, 100, now=0.0)
    assert m.translate_timestamp(100 + 9000) == 5000 + 9000
    m.resync()
    assert m.translate_timestamp(100) is None


@dataclass
class Step:
    source: int  # 0..2
    seq_step: int  # upstream sequence advance (loss when > 1, reorder when < 1)
    ts_step: int
    dt: float
    resync: bool


steps = st.builds(
    Step,
    source=st.sampled_from([0, 0, 0, 0, 1, 2]),
    seq_step=st.integers(-5, 40),
    ts_step=st.integers(0, 10000),
    dt=st.floats(0, 2, allow_nan=False),
    resync=st.booleans(),
)


@settings(deadline=None, max_examples=300)
@given(
    st.integers(0, SEQ_MASK),
    st.integers(0, TS_MASK),
    st.lists(st.tuples(st.integers(0, SEQ_MASK), st.integers(0, TS_MASK)), min_size=3, max_size=3),
    st.lists(steps, max_size=150),
)
def test_output_is_continuous_under_any_history(
    first_seq: int, first_ts: int, origins: list[tuple[int, int]], history: list[Step]
) -> None:
    """Whatever upstream does, the subscriber's stream never goes backwards or repeats.

    - the newest outgoing sequence number only moves forward, by exactly 1 at a segment start
      and by the upstream distance inside a segment;
    - the newest outgoing timestamp never moves backwards and moves forward at segment starts;
    - every sequence number handed out is new (within the 16-bit window).
    """
    m = RtpMunger(48000, first_sequence_number=first_seq, first_timestamp=first_ts)
    upstream = [list(o) for o in origins]
    now = 0.0
    newest_seq: int | None = None
    newest_ts: int | None = None
    given_out: set[int] = set()
    current_source: int | None = None
    resync_pending = True
    for step in history:
        now += step.dt
        if step.resync:
            m.resync()
            resync_pending = True
        src = upstream[step.source]
        src[0] = (src[0] + step.seq_step) & SEQ_MASK
        src[1] = (src[1] + step.ts_step) & TS_MASK
        new_segment = resync_pending or step.source != current_source
        out = m.munge(step.source, src[0], src[1], now)
        current_source = step.source
        if out is None:
            assert not new_segment
            continue
        resync_pending = False
        if newest_seq is None:
            assert out.sequence_number == first_seq
        elif new_segment:
            assert seq_diff(out.sequence_number, newest_seq) == 1
            assert ts_diff(out.timestamp, newest_ts or 0) >= 1
        if newest_seq is None or seq_diff(out.sequence_number, newest_seq) > 0:
            if newest_seq is not None and not new_segment:
                assert ts_diff(out.timestamp, newest_ts or 0) >= 0 or step.ts_step == 0
            assert out.sequence_number not in given_out
            newest_seq, newest_ts = out.sequence_number, out.timestamp
        given_out.add(out.sequence_number)
        assert 0 <= out.sequence_number <= SEQ_MASK
        assert 0 <= out.timestamp <= TS_MASK
        if len(given_out) > 20000:
            given_out.clear()
