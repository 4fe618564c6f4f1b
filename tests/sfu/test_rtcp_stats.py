"""Receive statistics for receiver reports, send counters for sender reports."""

from __future__ import annotations

from aiortc.rtp import RtcpPacket, RtcpSrPacket

from sfu.rtcp_stats import NTP_EPOCH_OFFSET_S, ReceiveStats, SendStats, ntp_middle_32, ntp_timestamp


def test_loss_and_fraction() -> None:
    s = ReceiveStats(ssrc=5, clock_rate=90000)
    for seq in (65534, 65535, 1, 2):  # 0 lost, across the wrap
        s.add(seq, seq * 3000, arrival=seq * 0.033)
    block = s.report_block(now=1.0)
    assert block is not None
    assert block.ssrc == 5
    assert block.packets_lost == 1
    assert block.highest_sequence == 65536 + 2
    assert block.fraction_lost == (1 << 8) // 5
    # next interval: no new loss
    s.add(3, 0, 2.0)
    block = s.report_block(now=2.0)
    assert block is not None and block.fraction_lost == 0


def test_duplicates_count_as_received_per_rfc3550() -> None:
    s = ReceiveStats(1, 8000)
    s.add(10, 0, 0.0)
    s.add(12, 160, 0.04)
    s.add(12, 160, 0.05)
    block = s.report_block(0.1)
    assert block is not None and block.packets_lost == 0  # RFC 3550: duplicates count as received


def test_lsr_dlsr() -> None:
    s = ReceiveStats(1, 90000)
    s.add(1, 0, 0.0)
    ntp = ntp_timestamp(1_700_000_000.0)
    s.sender_report(ntp, now=10.0)
    block = s.report_block(now=10.5)
    assert block is not None
    assert block.lsr == ntp_middle_32(ntp)
    assert block.dlsr == 32768


def test_jitter_grows_with_irregular_arrival() -> None:
    regular = ReceiveStats(1, 90000)
    irregular = ReceiveStats(1, 90000)
    for i in range(50):
        regular.add(i, i * 3000, i / 30)
        irregular.add(i, i * 3000, i / 30 + (0.01 if i % 2 else 0.0))
    assert regular.jitter <= 1
    assert irregular.jitter > 100


def test_no_report_before_first_packet() -> None:
    assert ReceiveStats(1, 90000).report_block(0.0) is None
    assert SendStats(1, 90000).sender_report(0.0) is None


def test_sender_report_extrapolates_timestamp_and_parses() -> None:
    s = SendStats(ssrc=9, clock_rate=90000)
    s.sent(100, timestamp=1000, now=50.0)
    s.sent(100, timestamp=900, now=50.1, newest=False)  # retransmission: counted, not mapped
    sr = s.sender_report(now=51.0)
    assert sr is not None
    (parsed,) = RtcpPacket.parse(bytes(sr))
    assert isinstance(parsed, RtcpSrPacket)
    assert parsed.ssrc == 9
    assert parsed.sender_info.rtp_timestamp == 1000 + 90000
    assert parsed.sender_info.packet_count == 2
    assert parsed.sender_info.octet_count == 200
    assert parsed.sender_info.ntp_timestamp >> 32 == 51 + NTP_EPOCH_OFFSET_S
    override = s.sender_report(now=51.0, rtp_timestamp=(1 << 32) + 5)
    assert override is not None and override.sender_info.rtp_timestamp == 5
