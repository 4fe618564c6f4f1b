"""Sender reports of one subscriber's streams as compound RTCP packets (RFC 3550 6.1)."""

from __future__ import annotations

from aiortc.rtp import RtcpPacket, RtcpSdesPacket, RtcpSenderInfo, RtcpSrPacket
from hypothesis import given
from hypothesis import strategies as st

from sfu.node import compound_sender_reports, sdes_cname_chunk


def sr(ssrc: int) -> bytes:
    info = RtcpSenderInfo(
        ntp_timestamp=ssrc * 7, rtp_timestamp=ssrc ^ 5, packet_count=ssrc, octet_count=ssrc >> 1
    )
    return bytes(RtcpSrPacket(ssrc=ssrc, sender_info=info))


@given(
    streams=st.lists(
        st.tuples(st.integers(0, 0xFFFF_FFFF), st.none() | st.text(min_size=1, max_size=40)), max_size=80
    ),
    max_bytes=st.integers(100, 1400),
)
def test_every_report_and_cname_arrives_once_in_packets_that_fit(
    streams: list[tuple[int, str | None]], max_bytes: int
) -> None:
    reports = [(sr(ssrc), sdes_cname_chunk(ssrc, cname) if cname else b"") for ssrc, cname in streams]
    packets = compound_sender_reports(reports, max_bytes)
    srs: list[int] = []
    cnames: list[tuple[int, bytes]] = []
    for data in packets:
        parsed = RtcpPacket.parse(data)  # what an aiortc receiver reads
        assert isinstance(parsed[0], RtcpSrPacket)  # a compound packet starts with a report
        assert len(data) <= max_bytes or len([p for p in parsed if isinstance(p, RtcpSrPacket)]) == 1
        for packet in parsed:
            if isinstance(packet, RtcpSrPacket):
                srs.append(packet.ssrc)
            else:
                assert isinstance(packet, RtcpSdesPacket)
                cnames += [(c.ssrc, c.items[0][1]) for c in packet.chunks]
    assert srs == [ssrc for ssrc, _ in streams]
    assert cnames == [(ssrc, c.encode()[:255]) for ssrc, c in streams if c]
