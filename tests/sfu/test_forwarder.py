"""The forwarding path with synthetic packets: up-track -> down-tracks -> in-memory sinks."""

from __future__ import annotations

import dataclasses
import struct

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    HeaderExtensions,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    pack_remb_fci,
    wrap_rtx,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from sfu.forwarder import MAX_NACKED_PER_PACKET, RTX_BUDGET_SHARE, RTX_BURST_BYTES, DownTrack
from sfu.forwarding import ForwardingTable
from sfu.keyframe import START_MIN_INTERVAL_S
from sfu.nack import lost_sequence_numbers
from sfu.rtp_ext import URI_ABS_SEND_TIME, URI_MID
from sfu.seqnum import seq_diff
from tests.sfu.fakes import (
    VP8_CONT,
    VP8_DELTA_START,
    VP8_KEY,
    Clock,
    Sink,
    Wire,
    audio_up,
    rtp,
    subscribe,
    video_up,
)


def plis(sink: Sink) -> list[RtcpPsfbPacket]:
    return [p for p in sink.rtcp() if isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_PLI]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_video_waits_for_keyframe_then_forwards_rewritten() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, s1, s2 = Clock(), Sink(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    subscribe(table, up, clock, s1, subscriber="a", ssrc=5000, mid="3")
    subscribe(table, up, clock, s2, subscriber="b", ssrc=6000, mid="7")

    await up.on_rtp(rtp(100, 9000, VP8_DELTA_START))
    assert s1.data == [] and s2.data == []
    assert len(plis(up_rtcp)) == 1  # a keyframe was asked for, once (throttled for the second)
    assert plis(up_rtcp)[0].media_ssrc == 1111 and plis(up_rtcp)[0].ssrc == 9999

    clock.t += 0.1
    await up.on_rtp(rtp(101, 12000, VP8_KEY))
    await up.on_rtp(rtp(102, 12000, VP8_CONT, marker=1))
    await up.on_rtp(rtp(103, 15000, VP8_DELTA_START, marker=1))
    for sink, ssrc, mid in ((s1, 5000, "3"), (s2, 6000, "7")):
        pkts = sink.rtp()
        assert [p.ssrc for p in pkts] == [ssrc] * 3
        assert [p.payload_type for p in pkts] == [97] * 3
        assert [seq_diff(p.sequence_number, pkts[0].sequence_number) for p in pkts] == [0, 1, 2]
        assert [p.timestamp - pkts[0].timestamp for p in pkts] == [0, 0, 3000]
        assert [p.marker for p in pkts] == [0, 1, 1]
        assert [p.payload for p in pkts] == [VP8_KEY, VP8_CONT, VP8_DELTA_START]
        assert all(p.extensions.mid == mid for p in pkts)
        assert all(p.extensions.abs_send_time is not None for p in pkts)


async def test_pause_sends_nothing_and_resume_restarts_on_keyframe() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    await up.on_rtp(rtp(1, 0, VP8_KEY))
    await up.on_rtp(rtp(2, 3000, VP8_DELTA_START))
    down.pause()
    for i in range(3, 50):
        await up.on_rtp(rtp(i, i * 3000, VP8_DELTA_START))
    assert len(sink.data) == 2
    assert await down.retransmit([sink.rtp()[0].sequence_number]) == 0  # paused: no answers either
    clock.t += 2.0
    down.resume()
    await up.tick()  # the deferred keyframe request goes out
    assert len(plis(up_rtcp)) == 1
    await up.on_rtp(rtp(50, 150000, VP8_DELTA_START))
    assert len(sink.data) == 2
    await up.on_rtp(rtp(51, 153000, VP8_KEY))
    pkts = sink.rtp()
    assert len(pkts) == 3
    assert seq_diff(pkts[2].sequence_number, pkts[1].sequence_number) == 1
    assert pkts[2].timestamp - pkts[1].timestamp == round(2.0 * 90000)


async def test_subscriber_nack_is_answered_from_cache_with_rtx() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    for i in range(10):
        await up.on_rtp(rtp(65530 + i, 3000 * i, VP8_KEY if i == 0 else VP8_CONT))
    sent = sink.rtp()
    wanted = [sent[3].sequence_number, sent[7].sequence_number]
    before = metric("venuekit_sfu_retransmissions_total", mode="rtx")
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=5000, lost=wanted)
    await down.on_rtcp(nack)
    rtx = sink.rtp()[10:]
    assert len(rtx) == 2
    assert all(p.ssrc == 5001 and p.payload_type == 98 for p in rtx)
    assert [struct.unpack("!H", p.payload[:2])[0] for p in rtx] == wanted
    assert [p.payload[2:] for p in rtx] == [sent[3].payload, sent[7].payload]
    assert [p.timestamp for p in rtx] == [sent[3].timestamp, sent[7].timestamp]
    assert seq_diff(rtx[1].sequence_number, rtx[0].sequence_number) == 1
    assert metric("venuekit_sfu_retransmissions_total", mode="rtx") == before + 2


async def test_nack_without_rtx_resends_original_and_counts_misses() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink, rtx=False)
    for i in range(3):
        await up.on_rtp(rtp(10 + i, 0, VP8_KEY if i == 0 else VP8_CONT))
    first = sink.rtp()[0]
    misses = metric("venuekit_sfu_retransmission_misses_total")
    assert await down.retransmit([first.sequence_number, (first.sequence_number + 50) & 0xFFFF]) == 1
    again = sink.rtp()[-1]
    assert (again.ssrc, again.sequence_number, again.payload) == (5000, first.sequence_number, first.payload)
    assert metric("venuekit_sfu_retransmission_misses_total") == misses + 1


async def test_plis_are_relayed_with_throttling() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    await up.on_rtp(rtp(1, 0, VP8_KEY))
    for i in range(10):
        clock.t += 0.05
        fmt = RTCP_PSFB_PLI if i % 2 else RTCP_PSFB_FIR
        await down.on_rtcp(RtcpPsfbPacket(fmt=fmt, ssrc=1, media_ssrc=5000))
    assert len(plis(up_rtcp)) == 1
    clock.t += 1.0
    await up.tick()
    assert len(plis(up_rtcp)) == 2  # the merged pending request
    await up.tick()
    assert len(plis(up_rtcp)) == 2


async def test_upstream_loss_is_nacked_and_rtx_repair_is_forwarded() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    subscribe(table, up, clock, sink)
    await up.on_rtp(rtp(65534, 0, VP8_KEY))
    await up.on_rtp(rtp(1, 0, VP8_CONT))  # 65535 and 0 lost
    nacks = [p for p in up_rtcp.rtcp() if isinstance(p, RtcpRtpfbPacket)]
    assert len(nacks) == 1
    assert lost_sequence_numbers(nacks[0].lost) == [65535, 0]
    assert nacks[0].media_ssrc == 1111
    # the publisher repairs 65535 with RTX
    original = rtp(65535, 0, VP8_CONT)
    repair = wrap_rtx(original, payload_type=121, sequence_number=77, ssrc=2222)
    await up.on_rtp(repair)
    pkts = sink.rtp()
    assert len(pkts) == 3
    assert seq_diff(pkts[2].sequence_number, pkts[0].sequence_number) == 1  # it fills its own slot
    assert pkts[2].payload == VP8_CONT and pkts[2].payload_type == 97
    # retries later only for what is still missing
    clock.t += 0.2
    await up.tick()
    nacks = [p for p in up_rtcp.rtcp() if isinstance(p, RtcpRtpfbPacket)]
    assert lost_sequence_numbers(nacks[-1].lost) == [0]


async def test_remb_and_receiver_reports_are_recorded() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    await down.on_rtcp(
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(750_000, [5000]))
    )
    assert down.remb_bps is not None and abs(down.remb_bps - 750_000) < 1000
    await down.on_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"junk"))
    info = RtcpReceiverInfo(
        ssrc=5000, fraction_lost=3, packets_lost=4, highest_sequence=5, jitter=6, lsr=0, dlsr=0
    )
    await down.on_rtcp(RtcpRrPacket(ssrc=1, reports=[info]))
    assert down.last_report == info


async def test_sender_report_follows_forwarded_stream() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    assert down.sender_report() is None
    await up.on_rtp(rtp(1, 1000, VP8_KEY))
    clock.t += 0.5
    sr = down.sender_report()
    assert sr is not None
    first = sink.rtp()[0]
    assert sr.ssrc == 5000
    assert sr.sender_info.packet_count == 1
    assert sr.sender_info.rtp_timestamp == (first.timestamp + 45000) & 0xFFFFFFFF
    block = up.report_block()
    assert block is not None and block.ssrc == 1111


async def test_upstream_ssrc_change_starts_new_segment() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    subscribe(table, up, clock, sink)
    await up.on_rtp(rtp(500, 0, VP8_KEY))
    await up.on_rtp(rtp(501, 0, VP8_CONT))
    clock.t += 0.1
    await up.on_rtp(rtp(9, 777, VP8_KEY, ssrc=4242))
    pkts = sink.rtp()
    assert [p.ssrc for p in pkts] == [5000] * 3
    assert seq_diff(pkts[2].sequence_number, pkts[1].sequence_number) == 1
    assert up.generation == 1 and up.media_ssrc == 4242


async def test_mute_stops_forwarding_and_unmute_resyncs() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    await up.on_rtp(rtp(1, 0, VP8_KEY))
    up.set_muted(True)
    await up.on_rtp(rtp(2, 0, VP8_KEY))
    assert len(sink.data) == 1
    up.set_muted(False)
    assert down.waiting_for_keyframe
    await up.on_rtp(rtp(3, 3000, VP8_KEY))
    assert len(sink.data) == 2


async def test_switch_to_another_track_keeps_the_stream_continuous() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up1 = video_up(table, clock, up_rtcp)
    up2 = video_up(table, clock, up_rtcp, track_id="pub/2", ssrc=3333)
    down = subscribe(table, up1, clock, sink)
    await up1.on_rtp(rtp(1, 0, VP8_KEY))
    table.unsubscribe("sub", "pub/0")
    down.switch(up2)
    table.subscribe("sub", "pub/2", down)
    clock.t += 0.25
    await up2.on_rtp(rtp(40000, 5, VP8_KEY, ssrc=3333))
    pkts = sink.rtp()
    assert [p.ssrc for p in pkts] == [5000, 5000]
    assert seq_diff(pkts[1].sequence_number, pkts[0].sequence_number) == 1
    assert pkts[1].timestamp - pkts[0].timestamp == round(0.25 * 90000)


async def test_codec_mismatch_and_disconnected_sink_are_counted() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    down.pt_map = type(down.pt_map)()  # as if the subscriber negotiated nothing in common
    assert not down.can_forward
    before = metric("venuekit_sfu_dropped_packets_total", reason="codec_mismatch")
    await up.on_rtp(rtp(1, 0, VP8_KEY))
    assert metric("venuekit_sfu_dropped_packets_total", reason="codec_mismatch") == before + 1
    sink2 = Sink(connected=False)
    subscribe(table, up, clock, sink2, subscriber="other")
    before = metric("venuekit_sfu_dropped_packets_total", reason="not_connected")
    await up.on_rtp(rtp(2, 0, VP8_KEY))
    assert metric("venuekit_sfu_dropped_packets_total", reason="not_connected") == before + 1


async def test_audio_levels_reach_the_callback_and_audio_needs_no_keyframe() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    levels: list[tuple[str, int, float]] = []
    up = audio_up(table, clock, up_rtcp, levels)
    subscribe(table, up, clock, sink)
    p = RtpPacket(payload_type=111, sequence_number=1, timestamp=960, ssrc=77, payload=b"\xfc\x00")
    p.extensions = HeaderExtensions(audio_level=(True, 30))
    await up.on_rtp(p)
    assert levels == [("pub/1", 30, clock.t)]
    (out,) = sink.rtp()
    assert out.payload_type == 96 and out.extensions.audio_level == (True, 30)
    assert up_rtcp.data == []  # no PLI, no NACK for audio


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from([120, 121, 0, 127, 96]),
            st.integers(0, 0xFFFF),
            st.integers(0, 0xFFFFFFFF),
            st.sampled_from([1111, 2222, 0, 0xFFFFFFFF]),
            st.binary(max_size=40),
            st.integers(0, 1),
        ),
        max_size=40,
    ),
    st.lists(st.integers(0, 0xFFFF), max_size=20),
)
async def test_garbage_packets_never_raise(
    packets: list[tuple[int, int, int, int, bytes, int]], nacks: list[int]
) -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    internal = metric("venuekit_sfu_dropped_packets_total", reason="internal_error")
    for pt, seq, ts, ssrc, payload, marker in packets:
        clock.t += 0.01
        pkt = RtpPacket(payload_type=pt, marker=marker, sequence_number=seq, timestamp=ts, ssrc=ssrc)
        pkt.payload = payload
        await up.on_rtp(pkt)
        await up.tick()
    await down.on_rtcp(RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=5000, lost=nacks))
    await down.on_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=5000))
    assert metric("venuekit_sfu_dropped_packets_total", reason="internal_error") == internal
    for out in sink.rtp():
        assert out.ssrc in (5000, 5001)


async def test_one_nack_cannot_drain_the_cache() -> None:
    from sfu.forwarder import MAX_NACKED_PER_PACKET

    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    for i in range(300):
        await up.on_rtp(rtp(i, 0, VP8_KEY if i == 0 else VP8_CONT))
    sent = [p.sequence_number for p in sink.rtp()]
    await down.on_rtcp(RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=5000, lost=sent))
    assert down.retransmissions == MAX_NACKED_PER_PACKET
    resent = [struct.unpack("!H", p.payload[:2])[0] for p in sink.rtp()[300:]]
    assert resent == sent[-MAX_NACKED_PER_PACKET:]


async def test_retransmissions_are_capped_by_a_share_of_the_forwarded_bytes() -> None:
    """A subscriber that NACKs everything gets at most the burst plus a share of its stream
    again; what the budget refuses is counted."""
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink)
    payload = VP8_CONT + bytes(998)
    for i in range(300):
        await up.on_rtp(rtp(i, 3000 * i, VP8_KEY + bytes(998) if i == 0 else payload))
    forwarded = sum(len(d) for d in sink.data)
    sent = sink.rtp()
    dropped = metric("venuekit_sfu_retransmissions_dropped_total")
    answered = 0
    for _ in range(4):  # the same overload, NACKed again and again
        answered += await down.retransmit([p.sequence_number for p in sent[-MAX_NACKED_PER_PACKET:]])
    resent = sum(len(d) for d in sink.data[len(sent) :])
    assert 0 < answered < 4 * MAX_NACKED_PER_PACKET
    assert resent <= RTX_BURST_BYTES + RTX_BUDGET_SHARE * forwarded
    assert down.retransmissions_dropped == 4 * MAX_NACKED_PER_PACKET - answered
    assert metric("venuekit_sfu_retransmissions_dropped_total") == dropped + down.retransmissions_dropped
    # forwarding more refills the budget: a share of what was forwarded since
    for i in range(300, 340):
        await up.on_rtp(rtp(i, 3000 * i, payload))
    refill = sum(len(d) for d in sink.data[-40:]) * RTX_BUDGET_SHARE
    more = await down.retransmit([p.sequence_number for p in sink.rtp()[-40:]])
    assert 0 < more <= refill // 1000 + 1


async def test_extension_ids_beyond_the_one_byte_form_are_written_by_aiortc() -> None:
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, sink = Clock(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    down = subscribe(table, up, clock, sink, mid="12")
    assert down.params is not None
    wide = ((URI_MID, 15), (URI_ABS_SEND_TIME, 3))
    down.configure(dataclasses.replace(down.params, extensions=wide))
    await up.on_rtp(rtp(1, 0, VP8_KEY))
    (packet,) = sink.rtp(wide)
    assert (packet.ssrc, packet.payload_type, packet.extensions.mid) == (5000, 97, "12")
    assert packet.extensions.abs_send_time is not None


async def test_a_starting_subscriber_asks_for_a_keyframe_once_it_can_receive_one() -> None:
    """The request waits for the subscriber's transport (a keyframe sent before it is up is
    lost to it), and a subscriber starting soon after another's request need not wait the
    full throttle interval of relayed PLIs."""
    table: ForwardingTable[DownTrack] = ForwardingTable()
    clock, up_rtcp, s1, s2 = Clock(), Sink(), Sink(), Sink()
    up = video_up(table, clock, up_rtcp)
    wire = Wire(connected=False)
    subscribe(table, up, clock, s1, subscriber="a", ssrc=5000, wire=wire)
    await up.on_rtp(rtp(1, 0, VP8_DELTA_START))
    await up.tick()
    assert plis(up_rtcp) == []  # not connected yet: nobody to send a keyframe to
    wire.up = True
    clock.t += 0.05
    await up.on_rtp(rtp(2, 3000, VP8_DELTA_START))
    assert len(plis(up_rtcp)) == 1
    await up.on_rtp(rtp(3, 6000, VP8_KEY))
    assert len(s1.rtp()) == 1

    clock.t += 0.3  # a second subscriber, 0.3 s after the first request
    subscribe(table, up, clock, s2, subscriber="b", ssrc=6000, wire=Wire(connected=True))
    await up.on_rtp(rtp(4, 9000, VP8_DELTA_START))
    assert len(plis(up_rtcp)) == 2
    clock.t += 0.1  # and again soon: throttled, pending, sent at the start interval
    await up.on_rtp(rtp(5, 12000, VP8_DELTA_START))
    assert len(plis(up_rtcp)) == 2
    clock.t += START_MIN_INTERVAL_S
    await up.tick()
    assert len(plis(up_rtcp)) == 3
