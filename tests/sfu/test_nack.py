"""Upstream loss tracking and NACK encoding."""

from __future__ import annotations

from aiortc.rtp import RtcpPacket, RtcpRtpfbPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.forwarder import pack_nack
from sfu.nack import NackTracker, lost_sequence_numbers
from sfu.seqnum import SEQ_MASK


def test_gap_is_nacked_then_retried_then_given_up() -> None:
    n = NackTracker(retry_interval_s=0.1, max_attempts=3)
    n.received(10)
    n.received(13)
    assert n.missing == [11, 12]
    assert n.due(0.0) == [11, 12]
    assert n.due(0.05) == []  # too soon
    assert n.due(0.1) == [11, 12]
    assert n.due(0.2) == [11, 12]  # third and last attempt
    assert n.due(0.3) == []
    assert n.missing == []


def test_retransmission_clears_missing() -> None:
    n = NackTracker()
    n.received(65534)
    n.received(1)  # 65535 and 0 missing, across the wrap
    assert n.missing == [65535, 0]
    n.received(0)
    assert n.missing == [65535]


def test_old_losses_age_out() -> None:
    n = NackTracker(max_age_pkts=10)
    n.received(0)
    n.received(2)
    n.received(20)
    assert 1 not in n.missing


def test_huge_jump_is_a_restart_not_loss() -> None:
    n = NackTracker()
    n.received(0)
    n.received(20000)
    assert n.missing == []


def test_missing_is_bounded() -> None:
    n = NackTracker(max_missing=5, max_age_pkts=1000)
    n.received(0)
    n.received(100)
    assert n.missing == [95, 96, 97, 98, 99]


def test_lost_sequence_numbers_masks_and_dedups() -> None:
    assert lost_sequence_numbers([65535, 65536, 65537, 65536]) == [65535, 0, 1]


@settings(deadline=None)
@given(st.lists(st.integers(0, SEQ_MASK), min_size=1, max_size=60))
def test_pack_nack_roundtrips_through_aiortc_parser(seqs: list[int]) -> None:
    data = pack_nack(1, 2, seqs)
    (parsed,) = RtcpPacket.parse(data)
    assert isinstance(parsed, RtcpRtpfbPacket)
    assert (parsed.ssrc, parsed.media_ssrc) == (1, 2)
    assert set(lost_sequence_numbers(parsed.lost)) == set(seqs)


def test_pack_nack_packs_neighbours_in_one_item_across_wrap() -> None:
    data = pack_nack(1, 2, [65534, 65535, 0, 5])
    assert len(data) == 4 + 8 + 4  # header, ssrcs, one FCI item
