"""The forwarding path: one :class:`UpTrack` per published track, one :class:`DownTrack` per
subscription. Packets only; nothing here decodes or encodes media.

An up-track receives the publisher's RTP packets (already parsed and SRTP-decrypted by aiortc,
handed over by ``sfu.aiortc_glue``), unwraps upstream RTX, keeps receive statistics, NACKs
upstream loss, caches packets for NACK answers, spots keyframes and audio levels, and hands
each packet to its down-tracks. A down-track rewrites the packet for one subscriber (SSRC,
payload type, sequence number, timestamp, header extensions), holds video until a keyframe,
and answers the subscriber's RTCP: NACKs from the cache (RTX when negotiated), PLI/FIR relayed
to the publisher through the up-track's throttle, REMB recorded.

The wire is reached through injected ``send`` callables (``bytes -> bool``: ``False`` when the
transport is not connected; RTCP through coroutines, RTP through plain functions so that one
upstream packet reaches all its subscribers without creating a coroutine per copy), so this
module is tested with synthetic packets and no sockets. Exceptions never escape into aiortc: a
failure is logged and counted as ``internal_error``.

Per-packet costs are kept off the per-subscriber loop: what all copies of an upstream packet
share is prepared once (:class:`~sfu.rtp_write.Outgoing`: payload, extension values, the send
time); each copy is written to bytes by the subscriber's :class:`~sfu.rtp_write.HeaderWriter`;
the sent-packet counters and the latency histogram are updated once per upstream packet.

Retransmissions to one subscriber are capped by a token bucket fed with a share
(:data:`RTX_BUDGET_SHARE`) of the bytes forwarded to it, so a subscriber that NACKs everything
cannot make the node send its stream twice; what the budget refuses is counted.
"""

from __future__ import annotations

import logging
import secrets
import struct
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

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
from sfu.fastpath import NATIVE, Lane, NativeTarget, arm, fan_out_packet, new_lane, new_munger
from sfu.keyframe import START_MIN_INTERVAL_S, KeyframeRequestThrottle, is_keyframe_start, needs_keyframe
from sfu.nack import NackTracker, lost_sequence_numbers
from sfu.packet_cache import DEFAULT_AUDIO_CAPACITY, DEFAULT_VIDEO_CAPACITY, PacketCache
from sfu.rtcp_stats import ReceiveStats, SendStats
from sfu.rtp_ext import audio_level, extension_map, rewrite_extensions
from sfu.rtp_write import HeaderWriter, Outgoing
from sfu.seqnum import SEQ_MASK, seq_add, seq_diff

log = logging.getLogger(__name__)

SendFn = Callable[[bytes], Awaitable[bool]]
SendNowFn = Callable[[bytes], bool]

# The most sequence numbers of one subscriber NACK that are answered (the newest ones win).
MAX_NACKED_PER_PACKET: Final = 64
# Retransmitted bytes to one subscriber may be at most this share of the bytes forwarded to it
# (plus a burst of RTX_BURST_BYTES, available from the start).
RTX_BUDGET_SHARE: Final = 0.25
RTX_BURST_BYTES: Final = 48_000
RTX_HEADER_ALLOWANCE: Final = 40  # header bytes assumed when checking the budget
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


class NativeWire(Protocol):
    """A subscriber's wire as the C fan-out needs it (``sfu.aiortc_glue.DirectRtpSender``)."""

    def native_target(self) -> NativeTarget | None: ...
    def connected(self) -> bool: ...


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
        # What down-track mungers see as the source of a packet (a new value: a new segment).
        self.source_key: tuple[str, int, int | None] = (track_id, 0, params.ssrc)
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
        self._m_sent_pkts = metrics.SENT_PACKETS.labels(self.kind)
        self._m_sent_bytes = metrics.SENT_BYTES.labels(self.kind)
        self.keyframes_received = 0
        self.packets_received = 0
        # The lanes of the last target tuple, for the C fan-out (rebuilt when the targets change).
        self._lanes_of: Sequence[DownTrack] = ()
        self._lanes: list[Lane] = []

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
        if not self.muted:
            await self._fan_out(packet, keyframe, arrival)

    async def _fan_out(self, packet: RtpPacket, keyframe: bool, arrival: float) -> None:
        """One upstream packet to every down-track: the shared work once; the copies in their
        steady state in one C call (``sfu._native``), the others (waiting for a keyframe, paused,
        not yet connected) a plain Python call each."""
        targets = self._targets()
        if not targets:
            return
        out = Outgoing(packet, self._wallclock())
        source = self.source_key
        now = self._monotonic()
        if targets is not self._lanes_of:
            self._lanes_of = targets
            self._lanes = [down.lane for down in targets]
        # The latency histogram gets one sample per upstream packet: the copy at a position that
        # moves round-robin, so over many packets it samples every position of the fan-out.
        sampled = self.packets_received % len(targets)
        sent, sent_bytes, stale, failed, skipped, sample_time = fan_out_packet(
            self._lanes, out, source, now, sampled
        )
        if stale:
            metrics.dropped("stale", stale)
        if failed:
            metrics.dropped("send_failed", failed)
        wants_keyframe = False
        for index in skipped or ():
            size = targets[index].forward_packet(out, source, keyframe, now)
            if size > 0:
                sent += 1
                sent_bytes += size
                if index == sampled:
                    sample_time = self._monotonic()
            elif size < 0:
                wants_keyframe = True
        if sample_time >= 0:
            metrics.FORWARDING_LATENCY.observe(max(0.0, sample_time - arrival))
        if sent:
            self._m_sent_pkts.inc(sent)
            self._m_sent_bytes.inc(sent_bytes)
        if wants_keyframe:
            await self.keyframe_needed("subscriber_start")

    def _new_source(self, ssrc: int, codec: Codec) -> None:
        if self.stats is not None:
            log.info("track %s: upstream SSRC changed %s -> %s", self.track_id, self.media_ssrc, ssrc)
            self.generation += 1
        self.media_ssrc = ssrc
        self.source_key = (self.track_id, self.generation, ssrc)
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
        """Someone needs a keyframe: send a PLI now, unless throttled (then it is pending).

        A subscriber starting (``subscriber_start``) may ask sooner after the previous request
        (:data:`~sfu.keyframe.START_MIN_INTERVAL_S`) than a relayed PLI.
        """
        interval = START_MIN_INTERVAL_S if reason == "subscriber_start" else None
        if self.is_video and self.throttle.request(self._monotonic(), interval):
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
        send_rtp: SendNowFn,
        wire: NativeWire | None = None,
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
        self._wire = wire
        self._monotonic = monotonic
        self._wallclock = wallclock
        self._ext_map = extension_map(())
        self._writer = HeaderWriter(ssrc, None, ())
        self._rtx_seq = secrets.randbelow(1 << 15)
        self.up = up
        self._pt_map = PayloadTypeMap()
        self._pt_media: Mapping[int, int] = self._pt_map.media
        clock_rate = up.codecs[0].clock_rate if up.codecs else 90000
        self.munger = new_munger(clock_rate)
        # The stream's counters and, when the C fan-out is built, its steady-state sender.
        self.lane = new_lane(self.munger, RTX_BUDGET_SHARE, RTX_BURST_BYTES)
        self.stats = SendStats(ssrc, clock_rate)
        self.paused = False
        self.waiting_for_keyframe = False
        self.remb_bps: int | None = None
        self.last_report: RtcpReceiverInfo | None = None
        self.retransmissions = 0
        self.retransmissions_dropped = 0
        self.closed = False
        self._m_sent_pkts = metrics.SENT_PACKETS.labels(kind)
        self._m_sent_bytes = metrics.SENT_BYTES.labels(kind)
        if params is not None:
            self.configure(params)

    @property
    def packets_sent(self) -> int:
        """Packets forwarded to this subscriber (resends not counted)."""
        return self.lane.packets_sent

    def configure(self, params: DownstreamParams) -> None:
        """The subscriber's negotiation completed (aiortc started the sender): forward from now."""
        if params.kind != self.kind or params.ssrc != self.ssrc:
            raise ValueError("parameters of another stream")
        self.lane.disarm()
        self.params = params
        self.mid = params.mid
        self.rtx_ssrc = params.rtx_ssrc
        self._ext_map = extension_map(params.extensions)
        self._writer = HeaderWriter(self.ssrc, params.mid, params.extensions)
        # The keyframe request comes with the first packet the subscriber can receive (see
        # forward_packet): one sent now would bring a keyframe before its transport is up.
        self._bind(self.up)

    def _bind(self, up: UpTrack) -> None:
        self.lane.disarm()  # another payload type map: re-armed by the next packet sent
        self.up = up
        if self.params is not None:
            self.pt_map = map_payload_types(up.codecs, self.params.codecs)
        self.waiting_for_keyframe = up.is_video and any(needs_keyframe(c.name) for c in up.codecs)

    @property
    def pt_map(self) -> PayloadTypeMap:
        """Upstream payload type -> the subscriber's (media and RTX)."""
        return self._pt_map

    @pt_map.setter
    def pt_map(self, value: PayloadTypeMap) -> None:
        self._pt_map = value
        self._pt_media = value.media

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
            self.lane.disarm()
            self.waiting_for_keyframe = True
            self.up.defer_keyframe_request()

    def pause(self) -> None:
        self.paused = True
        self.lane.disarm()

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

    def forward_packet(  # noqa: PLR0911 (the hot path: one call per copy, no helper calls)
        self, out: Outgoing, source: Hashable, keyframe: bool, now: float
    ) -> int:
        """Send one upstream packet (prepared in ``out``) to this subscriber.

        Returns the bytes sent; 0 when held back or dropped; -1 when waiting for a keyframe (the
        up-track then asks the publisher for one). Never raises.
        """
        if self.paused or self.closed or self.params is None:
            return 0
        try:
            packet = out.packet
            payload_type = self._pt_media.get(packet.payload_type)
            if payload_type is None:
                metrics.dropped("codec_mismatch")
                return 0
            if self.waiting_for_keyframe:
                if not keyframe:
                    # ask for one once the subscriber can receive it
                    return -1 if self._wire is None or self._wire.connected() else 0
                self.waiting_for_keyframe = False
                self.munger.resync()
            munger = self.munger
            munged = munger.munge_fast(source, packet.sequence_number, packet.timestamp, now)
            if munged is None:
                metrics.dropped("stale")
                return 0
            seq, ts = munged
            writer = self._writer
            if writer.fast:
                data = writer.write(out, payload_type, seq, ts)
            else:
                data = self._rewrite(packet, payload_type, seq, ts, out.wallclock).serialize(self._ext_map)
            if not self._send(data):
                metrics.dropped("not_connected")
                return 0
            size = len(data)
            self.lane.sent(out.payload_size, size, ts, out.wallclock, munger.newest, True)
            if NATIVE and self._wire is not None and writer.fast:  # C can take it from here
                self._arm()
            return size
        except Exception:
            log.exception("forwarding to %s failed", self.subscriber_id)
            metrics.dropped("internal_error")
            return 0

    def _arm(self) -> None:
        """Hand this copy to the C fan-out from the next packet, when it is in its steady state."""
        wire = self._wire
        if self.paused or self.closed or self.waiting_for_keyframe or self.params is None or wire is None:
            return
        target = wire.native_target()
        if target is not None:
            arm(self.lane, target, self._writer.native_header, dict(self._pt_media))

    def check_wire(self) -> None:
        """Back to the Python path when the transport C sends on is no longer connected."""
        if self.lane.armed and (self._wire is None or not self._wire.connected()):
            self.lane.disarm()

    def _rewrite(
        self, packet: RtpPacket, payload_type: int, seq: int, ts: int, wallclock: float
    ) -> RtpPacket:
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
        out.extensions = rewrite_extensions(packet.extensions, mid=self.mid, send_time=wallclock)
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
            if len(cached.payload) + RTX_HEADER_ALLOWANCE > self.lane.rtx_tokens:
                # Over the retransmission budget: the subscriber is already behind.
                self.retransmissions_dropped += 1
                metrics.RETRANSMISSIONS_DROPPED.inc()
                continue
            out = self._rewrite(cached, payload_type, out_seq & SEQ_MASK, ts, self._wallclock())
            rtx_pt = self.pt_map.rtx.get(payload_type)
            mode = "plain"
            if rtx_pt is not None:
                out = wrap_rtx(out, payload_type=rtx_pt, sequence_number=self._rtx_seq, ssrc=self.rtx_ssrc)
                self._rtx_seq = seq_add(self._rtx_seq, 1)
                mode = "rtx"
            data = out.serialize(self._ext_map)
            if not self._send(data):
                metrics.dropped("not_connected")
                break
            self.lane.rtx_tokens -= len(data)
            sent += 1
            self.retransmissions += 1
            self.lane.sent(len(out.payload), len(data), ts, self._wallclock(), False, False)
            metrics.RETRANSMISSIONS.labels(mode).inc()
            self._m_sent_pkts.inc()
            self._m_sent_bytes.inc(len(data))
        return sent

    def sender_report(self) -> RtcpSrPacket | None:
        """This stream's sender report now; ``None`` before anything was sent."""
        if not self.munger.started or self.closed:
            return None
        self.check_wire()
        stats, lane = self.stats, self.lane
        stats.packets, stats.octets = lane.packets, lane.octets
        stats.last_timestamp, stats.last_time = lane.last_timestamp, lane.last_time
        upstream = self.up.rtp_time(self._monotonic())
        translated = self.munger.translate_timestamp(upstream) if upstream is not None else None
        return self.stats.sender_report(self._wallclock(), translated)

    def close(self) -> None:
        self.closed = True
        self.lane.disarm()
