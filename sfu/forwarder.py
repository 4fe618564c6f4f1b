"""The forwarding path: one :class:`UpTrack` per published track, one :class:`DownTrack` per
subscription. Packets only; nothing here decodes or encodes media.

An up-track receives the publisher's RTP packets (already parsed and SRTP-decrypted by aiortc,
handed over by ``sfu.aiortc_glue``), unwraps upstream RTX, keeps receive statistics, NACKs
upstream loss, caches packets for NACK answers, spots keyframes and audio levels, and hands
each packet to its down-tracks. A down-track rewrites the packet for one subscriber (SSRC,
payload type, sequence number, timestamp, header extensions), holds video until a keyframe,
and answers the subscriber's RTCP: NACKs from the cache (RTX when negotiated), PLI/FIR relayed
to the publisher through the up-track's throttle, REMB recorded.

The wire is reached through injected ``send`` coroutines (``bytes -> bool``: ``False`` when the
transport is not connected), so this module is tested with synthetic packets and no sockets.
Exceptions never escape into aiortc: a failure is logged and counted as ``internal_error``.
"""

from __future__ import annotations

import logging
import secrets
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_rtcp_packet,
    unpack_remb_fci,
    unwrap_rtx,
    wrap_rtx,
)

from sfu import metrics
from sfu.codecs import Codec, PayloadTypeMap, map_payload_types
from sfu.keyframe import KeyframeRequestThrottle, is_keyframe_start, needs_keyframe
from sfu.munger import RtpMunger
from sfu.nack import NackTracker, lost_sequence_numbers
from sfu.packet_cache import DEFAULT_AUDIO_CAPACITY, DEFAULT_VIDEO_CAPACITY, PacketCache
from sfu.rtcp_stats import ReceiveStats, SendStats
from sfu.rtp_ext import audio_level, extension_map, rewrite_extensions
from sfu.seqnum import SEQ_MASK, seq_add, seq_diff

log = logging.getLogger(__name__)

SendFn = Callable[[bytes], Awaitable[bool]]

# The most sequence numbers of one subscriber NACK that are answered (the newest ones win).
MAX_NACKED_PER_PACKET: Final = 64
AudioLevelFn = Callable[[str, int, float], None]  # (track id, level -dBov, monotonic time)


@dataclass(frozen=True, slots=True)
class UpstreamParams:
    """What a publisher negotiated for one track (read from aiortc's receive parameters)."""

    kind: str
    mid: str | None
    codecs: tuple[Codec, ...]  # media codecs; ``rtx_payload_type`` set where RTX was negotiated
    ssrc: int | None = None  # announced in the SDP, if it was
    rtx_ssrc: int | None = None


@dataclass(frozen=True, slots=True)
class DownstreamParams:
    """What a subscriber negotiated for one outgoing slot (read from aiortc's send parameters)."""

    kind: str
    mid: str | None
    ssrc: int
    rtx_ssrc: int
    cname: str | None
    codecs: tuple[Codec, ...]
    extensions: tuple[tuple[str, int], ...]  # (uri, id)


def pack_nack(ssrc: int, media_ssrc: int, sequence_numbers: Sequence[int]) -> bytes:
    """A generic NACK (RFC 4585 6.2.1) for ``sequence_numbers``, wraparound-safe.

    (aiortc's serializer assumes the list does not wrap.)
    """
    items: list[list[int]] = []
    for number in sequence_numbers:
        seq = number & SEQ_MASK
        if items:
            pid, _ = items[-1]
            distance = seq_diff(seq, pid)
            if 0 < distance <= 16:
                items[-1][1] |= 1 << (distance - 1)
                continue
        items.append([seq, 0])
    payload = struct.pack("!LL", ssrc, media_ssrc) + b"".join(struct.pack("!HH", p, b) for p, b in items)
    return pack_rtcp_packet(RTCP_RTPFB, RTCP_RTPFB_NACK, payload)


def pack_pli(ssrc: int, media_ssrc: int) -> bytes:
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=ssrc, media_ssrc=media_ssrc))


@dataclass(slots=True)
class _SenderReportMapping:
    rtp_timestamp: int
    local_time: float  # monotonic arrival time of the publisher's SR
    ssrc: int


class UpTrack:
    """One published track as it arrives at the SFU."""

    def __init__(
        self,
        *,
        track_id: str,
        publisher_id: str,
        params: UpstreamParams,
        send_rtcp: SendFn,
        rtcp_ssrc: int,
        targets: Callable[[], Sequence[DownTrack]],
        on_audio_level: AudioLevelFn | None = None,
        keyframe_interval_s: float = 1.0,
        cache_capacity: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.track_id = track_id
        self.publisher_id = publisher_id
        self.params = params
        self.kind = params.kind
        self.codecs = params.codecs
        self._by_pt = {c.payload_type: c for c in params.codecs}
        self._rtx_apt = {c.rtx_payload_type: c.payload_type for c in params.codecs if c.rtx_payload_type}
        self._send_rtcp = send_rtcp
        self.rtcp_ssrc = rtcp_ssrc
        self._targets = targets
        self._on_audio_level = on_audio_level
        self._monotonic = monotonic
        self._wallclock = wallclock
        self.media_ssrc: int | None = params.ssrc
        # Bumped when the upstream SSRC changes: down-tracks start a new segment.
        self.generation = 0
        default_capacity = DEFAULT_VIDEO_CAPACITY if self.kind == "video" else DEFAULT_AUDIO_CAPACITY
        capacity = cache_capacity or default_capacity
        self.cache = PacketCache(capacity)
        self.nack = NackTracker()
        self.throttle = KeyframeRequestThrottle(keyframe_interval_s)
        self.stats: ReceiveStats | None = None
        self._sr: _SenderReportMapping | None = None
        self.muted = False
        self.closed = False
        # labelled metric children resolved once (labels() is a dict lookup under a lock)
        self._m_received_pkts = metrics.RECEIVED_PACKETS.labels(self.kind)
        self._m_received_bytes = metrics.RECEIVED_BYTES.labels(self.kind)
        self.keyframes_received = 0
        self.packets_received = 0

    @property
    def is_video(self) -> bool:
        return self.kind == "video"

    # --- inbound RTP ------------------------------------------------------------------------

    async def on_rtp(self, packet: RtpPacket, arrival: float | None = None) -> None:
        """A parsed, decrypted RTP packet of this track arrived (never raises)."""
        try:
            await self._on_rtp(packet, self._monotonic() if arrival is None else arrival)
        except Exception:
            log.exception("forwarding failed for track %s", self.track_id)
            metrics.dropped("internal_error")

    async def _on_rtp(self, packet: RtpPacket, arrival: float) -> None:
        if self.closed:
            return
        retransmitted = False
        apt = self._rtx_apt.get(packet.payload_type)
        if apt is not None:
            if len(packet.payload) < 2 or self.media_ssrc is None:
                metrics.dropped("malformed_rtx")
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=self.media_ssrc)
            retransmitted = True
        codec = self._by_pt.get(packet.payload_type)
        if codec is None:
            metrics.dropped("unknown_payload_type")
            return
        if packet.ssrc != self.media_ssrc or self.stats is None:
            self._new_source(packet.ssrc, codec)
        assert self.stats is not None
        self.packets_received += 1
        self._m_received_pkts.inc()
        self._m_received_bytes.inc(len(packet.payload))
        self.stats.add(packet.sequence_number, packet.timestamp, arrival)
        self.nack.received(packet.sequence_number)
        if self.is_video and not retransmitted:
            due = self.nack.due(arrival)
            if due:
                await self._send_nack(due)
        self.cache.put(packet)

        keyframe = needs_keyframe(codec.name) and is_keyframe_start(codec.name, packet.payload)
        if keyframe:
            self.keyframes_received += 1
            self.throttle.keyframe_received()
        if self._on_audio_level is not None and self.kind == "audio":
            level = audio_level(packet.extensions)
            if level is not None:
                self._on_audio_level(self.track_id, level[1], arrival)
        if self.muted:
            return
        for down in self._targets():
            await down.forward(packet, keyframe=keyframe, arrival=arrival)

    def _new_source(self, ssrc: int, codec: Codec) -> None:
        if self.stats is not None:
            log.info("track %s: upstream SSRC changed %s -> %s", self.track_id, self.media_ssrc, ssrc)
            self.generation += 1
        self.media_ssrc = ssrc
        self.stats = ReceiveStats(ssrc, codec.clock_rate)
        self.cache.clear()
        self.nack = NackTracker()
        self._sr = None

    # --- inbound RTCP -----------------------------------------------------------------------

    def on_rtcp(self, packet: AnyRtcpPacket) -> None:
        """RTCP from the publisher routed to this track (sender reports, BYE)."""
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == self.media_ssrc and self.stats is not None:
            now = self._monotonic()
            self.stats.sender_report(packet.sender_info.ntp_timestamp, now)
            self._sr = _SenderReportMapping(packet.sender_info.rtp_timestamp, now, packet.ssrc)

    def rtp_time(self, now: float) -> int | None:
        """The upstream RTP time at monotonic ``now``, from the publisher's last sender report."""
        if self._sr is None or self._sr.ssrc != self.media_ssrc or not self.codecs:
            return None
        clock_rate = self.codecs[0].clock_rate
        return (self._sr.rtp_timestamp + round((now - self._sr.local_time) * clock_rate)) & 0xFFFF_FFFF

    # --- outbound RTCP to the publisher -------------------------------------------------------

    async def _send_nack(self, sequence_numbers: list[int]) -> None:
        if self.media_ssrc is None:
            return
        metrics.NACKS_SENT.labels(self.kind).inc(len(sequence_numbers))
        await self._send_rtcp(pack_nack(self.rtcp_ssrc, self.media_ssrc, sequence_numbers))

    def defer_keyframe_request(self) -> None:
        """Someone needs a keyframe; the next :meth:`tick` asks for it (throttled)."""
        if self.is_video:
            self.throttle.defer()

    async def keyframe_needed(self, reason: str) -> None:
        """Someone needs a keyframe: send a PLI now, unless throttled (then it is pending)."""
        if self.is_video and self.throttle.request(self._monotonic()):
            await self.send_keyframe_request(reason)

    async def send_keyframe_request(self, reason: str) -> None:
        if self.media_ssrc is None or self.closed:
            return
        metrics.KEYFRAME_REQUESTS.labels(reason).inc()
        await self._send_rtcp(pack_pli(self.rtcp_ssrc, self.media_ssrc))

    async def tick(self) -> None:
        """Periodic work (every ~50-100 ms): NACK retries, pending keyframe requests."""
        if self.closed:
            return
        now = self._monotonic()
        if self.is_video:
            due = self.nack.due(now)
            if due:
                await self._send_nack(due)
            if self.throttle.poll(now):
                await self.send_keyframe_request("throttled")

    def report_block(self) -> RtcpReceiverInfo | None:
        if self.stats is None:
            return None
        return self.stats.report_block(self._monotonic())

    def set_muted(self, muted: bool) -> None:
        """Publisher mute: nothing is forwarded while muted; subscribers resync on unmute."""
        if muted == self.muted:
            return
        self.muted = muted
        if not muted:
            for down in self._targets():
                down.restart()

    def close(self) -> None:
        self.closed = True
        self.cache.clear()


class DownTrack:
    """One subscription: a published track as one subscriber receives it."""

    def __init__(
        self,
        *,
        subscriber_id: str,
        up: UpTrack,
        kind: str,
        ssrc: int,
        rtx_ssrc: int,
        send_rtp: SendFn,
        params: DownstreamParams | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.subscriber_id = subscriber_id
        self.kind = kind
        self.ssrc = ssrc
        self.rtx_ssrc = rtx_ssrc
        self.params: DownstreamParams | None = None
        self.mid: str | None = None
        self._send = send_rtp
        self._monotonic = monotonic
        self._wallclock = wallclock
        self._ext_map = extension_map(())
        self._rtx_seq = secrets.randbelow(1 << 15)
        self.up = up
        self.pt_map = PayloadTypeMap()
        clock_rate = up.codecs[0].clock_rate if up.codecs else 90000
        self.munger = RtpMunger(clock_rate)
        self.stats = SendStats(ssrc, clock_rate)
        self.paused = False
        self.waiting_for_keyframe = False
        self.remb_bps: int | None = None
        self.last_report: RtcpReceiverInfo | None = None
        self.packets_sent = 0
        self.retransmissions = 0
        self.closed = False
        self._m_sent_pkts = metrics.SENT_PACKETS.labels(kind)
        self._m_sent_bytes = metrics.SENT_BYTES.labels(kind)
        if params is not None:
            self.configure(params)

    def configure(self, params: DownstreamParams) -> None:
        """The subscriber's negotiation completed (aiortc started the sender): forward from now."""
        if params.kind != self.kind or params.ssrc != self.ssrc:
            raise ValueError("parameters of another stream")
        self.params = params
        self.mid = params.mid
        self.rtx_ssrc = params.rtx_ssrc
        self._ext_map = extension_map(params.extensions)
        self._bind(self.up)
        if self.up.is_video:
            self.up.defer_keyframe_request()

    def _bind(self, up: UpTrack) -> None:
        self.up = up
        if self.params is not None:
            self.pt_map = map_payload_types(up.codecs, self.params.codecs)
        self.waiting_for_keyframe = up.is_video and any(needs_keyframe(c.name) for c in up.codecs)

    @property
    def ready(self) -> bool:
        """Negotiated: packets can be sent."""
        return self.params is not None

    @property
    def can_forward(self) -> bool:
        """The subscriber negotiated at least one of the publisher's codecs."""
        return bool(self.pt_map.media)

    def restart(self) -> None:
        """Start a new segment at the next packet: on video, at the next keyframe."""
        self.munger.resync()
        if self.up.is_video:
            self.waiting_for_keyframe = True
            self.up.defer_keyframe_request()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.restart()

    def reopen(self, up: UpTrack) -> None:
        """Reuse this closed slot for another track of the same kind (the stream continues)."""
        if up.kind != self.kind:
            raise ValueError("cannot reuse a slot for another media kind")
        self.closed = False
        self.paused = False
        self._bind(up)
        self.restart()

    def switch(self, up: UpTrack) -> None:
        """Forward another published track (of the same kind) in this slot from now on."""
        if up.kind != self.kind:
            raise ValueError("cannot switch between media kinds")
        self._bind(up)
        self.restart()

    async def forward(self, packet: RtpPacket, *, keyframe: bool, arrival: float) -> bool:
        """Send one upstream packet to this subscriber; ``False`` when it was held back."""
        if self.paused or self.closed or self.params is None:
            return False
        try:
            return await self._forward(packet, keyframe, arrival)
        except Exception:
            log.exception("forwarding to %s failed", self.subscriber_id)
            metrics.dropped("internal_error")
            return False

    async def _forward(self, packet: RtpPacket, keyframe: bool, arrival: float) -> bool:
        payload_type = self.pt_map.media.get(packet.payload_type)
        if payload_type is None:
            metrics.dropped("codec_mismatch")
            return False
        if self.waiting_for_keyframe:
            if not keyframe:
                await self.up.keyframe_needed("subscriber_start")
                return False
            self.waiting_for_keyframe = False
            self.munger.resync()
        now = self._monotonic()
        source = (self.up.track_id, self.up.generation, packet.ssrc)
        munged = self.munger.munge(source, packet.sequence_number, packet.timestamp, now)
        if munged is None:
            metrics.dropped("stale")
            return False
        newest = munged.sequence_number == self.munger.last_sequence_number
        out = self._rewrite(packet, payload_type, munged.sequence_number, munged.timestamp)
        data = out.serialize(self._ext_map)
        if not await self._send(data):
            metrics.dropped("not_connected")
            return False
        self.packets_sent += 1
        self.stats.sent(len(packet.payload), munged.timestamp, self._wallclock(), newest=newest)
        self._m_sent_pkts.inc()
        self._m_sent_bytes.inc(len(data))
        metrics.FORWARDING_LATENCY.observe(max(0.0, self._monotonic() - arrival))
        return True

    def _rewrite(self, packet: RtpPacket, payload_type: int, seq: int, ts: int) -> RtpPacket:
        out = RtpPacket(
            payload_type=payload_type,
            marker=packet.marker,
            sequence_number=seq,
            timestamp=ts,
            ssrc=self.ssrc,
            payload=packet.payload,
        )
        out.csrc = list(packet.csrc)
        out.padding_size = packet.padding_size
        out.extensions = rewrite_extensions(packet.extensions, mid=self.mid, send_time=self._wallclock())
        return out

    # --- RTCP from the subscriber -------------------------------------------------------------

    async def on_rtcp(self, packet: AnyRtcpPacket) -> None:
        """RTCP from the subscriber about this stream (never raises)."""
        try:
            await self._on_rtcp(packet)
        except Exception:
            log.exception("RTCP handling failed for %s", self.subscriber_id)
            metrics.dropped("internal_error")

    async def _on_rtcp(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            lost = lost_sequence_numbers(packet.lost)
            metrics.NACKS_RECEIVED.labels(self.kind).inc(len(lost))
            # Bounded so one RTCP packet cannot make the node resend a whole cache.
            await self.retransmit(lost[-MAX_NACKED_PER_PACKET:])
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            metrics.PLIS_RECEIVED.labels("pli" if packet.fmt == RTCP_PSFB_PLI else "fir").inc()
            await self.up.keyframe_needed("subscriber_pli")
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except (ValueError, IndexError, struct.error):
                metrics.dropped("malformed_rtcp")
                return
            if self.ssrc in ssrcs:
                self.remb_bps = bitrate
                metrics.REMB_BITRATE.observe(bitrate)
        elif isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == self.ssrc:
                    self.last_report = report

    async def retransmit(self, sequence_numbers: Sequence[int]) -> int:
        """Resend NACKed packets (outgoing sequence numbers) from the cache; returns how many."""
        if self.closed or self.paused or self.params is None:
            return 0
        sent = 0
        for out_seq in sequence_numbers:
            in_seq = self.munger.original_sequence_number(out_seq)
            cached = self.up.cache.get(in_seq) if in_seq is not None else None
            payload_type = self.pt_map.media.get(cached.payload_type) if cached is not None else None
            ts = self.munger.translate_timestamp(cached.timestamp) if cached is not None else None
            if cached is None or payload_type is None or ts is None:
                metrics.RETRANSMISSION_MISSES.inc()
                continue
            out = self._rewrite(cached, payload_type, out_seq & SEQ_MASK, ts)
            rtx_pt = self.pt_map.rtx.get(payload_type)
            mode = "plain"
            if rtx_pt is not None:
                out = wrap_rtx(out, payload_type=rtx_pt, sequence_number=self._rtx_seq, ssrc=self.rtx_ssrc)
                self._rtx_seq = seq_add(self._rtx_seq, 1)
                mode = "rtx"
            data = out.serialize(self._ext_map)
            if not await self._send(data):
                metrics.dropped("not_connected")
                break
            sent += 1
            self.retransmissions += 1
            self.stats.sent(len(out.payload), ts, self._wallclock(), newest=False)
            metrics.RETRANSMISSIONS.labels(mode).inc()
            self._m_sent_pkts.inc()
            self._m_sent_bytes.inc(len(data))
        return sent

    def sender_report(self) -> RtcpSrPacket | None:
        """This stream's sender report now; ``None`` before anything was sent."""
        if not self.munger.started or self.closed:
            return None
        upstream = self.up.rtp_time(self._monotonic())
        translated = self.munger.translate_timestamp(upstream) if upstream is not None else None
        return self.stats.sender_report(self._wallclock(), translated)

    def close(self) -> None:
        self.closed = True
