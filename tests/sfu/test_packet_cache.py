"""The bounded per-track packet cache used to answer NACKs."""

from __future__ import annotations

import pytest
from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.packet_cache import PacketCache
from sfu.seqnum import SEQ_MASK


def pkt(seq: int) -> RtpPacket:
    return RtpPacket(
        payload_type=97, sequence_number=seq & SEQ_MASK, payload=(seq & SEQ_MASK).to_bytes(4, "big")
    )


def test_rejects_bad_capacity() -> None:
    for bad in (0, 3, 100, 1 << 16):
        with pytest.raises(ValueError, match="power of two"):
            PacketCache(bad)


def test_returns_recent_packets_across_wrap() -> None:
    c = PacketCache(8)
    for seq in range(65530, 65540):
        c.put(pkt(seq))
    assert c.get(65531) is None  # fell out of the window (10 packets, 8 slots)
    for seq in range(65532, 65540):
        got = c.get(seq & SEQ_MASK)
        assert got is not None and got.payload == (seq & SEQ_MASK).to_bytes(4, "big")
    assert len(c) == 8


def test_missing_and_future_packets_are_none() -> None:
    c = PacketCache(16)
    assert c.get(1) is None
    c.put(pkt(10))
    c.put(pkt(12))
    assert c.get(11) is None
    assert c.get(13) is None
    assert c.get(10 + 32768) is None


def test_late_packet_is_stored_if_in_window() -> None:
    c = PacketCache(16)
    c.put(pkt(100))
    c.put(pkt(98))
    assert c.get(98) is not None
    c.put(pkt(50))  # older than the window
    assert c.get(50) is None


def test_clear() -> None:
    c = PacketCache(4)
    c.put(pkt(1))
    c.clear()
    assert c.get(1) is None and len(c) == 0


@settings(deadline=None)
@given(st.integers(0, SEQ_MASK), st.lists(st.integers(-3, 20), max_size=300))
def test_cache_matches_a_reference_model(start: int, steps: list[int]) -> None:
    cap = 32
    c = PacketCache(cap)
    model: dict[int, int] = {}  # extended seq -> payload marker
    seq = start
    highest = start
    for step in steps:
        seq += step
        highest = max(highest, seq)
        c.put(pkt(seq))
        if highest - seq < cap:
            model[seq] = seq
        for ext in [e for e in model if highest - e >= cap]:
            del model[ext]
    assert len(c) <= cap
    for ext in range(highest - cap - 5, highest + 3):
        got = c.get(ext & SEQ_MASK)
        if ext in model:
            assert got is not None and got.payload == (ext & SEQ_MASK).to_bytes(4, "big")
        else:
            assert got is None
