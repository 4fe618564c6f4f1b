"""What the SFU needs for its RTCP reports: receive statistics (RFC 3550 A.3, A.8) for receiver
reports towards publishers, and send counters plus an NTP/RTP mapping for sender reports
towards subscribers.

Builds aiortc's RTCP value objects (``aiortc.rtp``); no I/O; the caller passes the time.
"""

from __future__ import annotations

from typing import Final

from aiortc.rtp import RtcpReceiverInfo, RtcpSenderInfo, RtcpSrPacket, clamp_packets_lost

from sfu.seqnum import SEQ_BITS, TS_MASK, Unwrapper, ts_diff

NTP_EPOCH_OFFSET_S: Final = 2_208_988_800  # 1900-01-01 to 1970-01-01


def ntp_timestamp(unix_time: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point) for a Unix time."""
    return int((unix_time + NTP_EPOCH_OFFSET_S) * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def ntp_middle_32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, as used in LSR."""
    return (ntp >> 16) & 0xFFFF_FFFF


class ReceiveStats:
    """Statistics of one upstream stream (one SSRC) for its receiver report block."""

    __slots__ = (
        "_base",
        "_clock_rate",
        "_expected_prior",
        "_jitter",
        "_last_arrival",
        "_last_timestamp",
        "_lsr",
        "_lsr_time",
        "_received",
        "_received_prior",
        "_unwrap",
        "ssrc",
    )

    def __init__(self, ssrc: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self._clock_rate = clock_rate
        self._unwrap = Unwrapper(SEQ_BITS)
        self._base: int | None = None
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._last_arrival: float | None = None
        self._last_timestamp: int | None = None
        self._lsr = 0
        self._lsr_time: float | None = None

    @property
    def packets_received(self) -> int:
        return self._received

    @property
    def packets_expected(self) -> int:
        highest = self._unwrap.highest
        if highest is None or self._base is None:
            return 0
        return highest - self._base + 1

    @property
    def packets_lost(self) -> int:
        return clamp_packets_lost(self.packets_expected - self._received)

    @property
    def jitter(self) -> int:
        return int(self._jitter)

    def add(self, sequence_number: int, timestamp: int, arrival: float) -> None:
        """A packet arrived at ``arrival`` (seconds, any monotonic clock)."""
        previous_highest = self._unwrap.highest
        extended = self._unwrap.unwrap(sequence_number)
        self._received += 1
        if self._base is None or extended < self._base:
            self._base = extended
        if previous_highest is not None and extended <= previous_highest:
            return  # reordered or duplicate: no jitter sample
        arrival_ticks = arrival * self._clock_rate
        if self._last_arrival is not None and self._last_timestamp is not None:
            transit_delta = (arrival_ticks - self._last_arrival) - ts_diff(timestamp, self._last_timestamp)
            self._jitter += (abs(transit_delta) - self._jitter) / 16
        self._last_arrival = arrival_ticks
        self._last_timestamp = timestamp

    def sender_report(self, ntp: int, now: float) -> None:
        """The publisher's sender report for this SSRC arrived at ``now``."""
        self._lsr = ntp_middle_32(ntp)
        self._lsr_time = now

    def report_block(self, now: float) -> RtcpReceiverInfo | None:
        """The report block for a receiver report sent at ``now``; ``None`` before any packet."""
        highest = self._unwrap.highest
        if highest is None:
            return None
        expected = self.packets_expected
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        dlsr = 0
        if self._lsr_time is not None:
            delay = now - self._lsr_time
            if 0 < delay < 65536:
                dlsr = int(delay * 65536)
        return RtcpReceiverInfo(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=self.packets_lost,
            highest_sequence=highest & 0xFFFF_FFFF,
            jitter=self.jitter & 0xFFFF_FFFF,
            lsr=self._lsr,
            dlsr=dlsr,
        )


class SendStats:
    """Counters of one outgoing stream and its NTP/RTP mapping, for its sender reports."""

    # Public fields: the forwarding path updates them inline (a method call per copy costs more
    # than the update); :meth:`sent` does the same for everyone else.
    __slots__ = ("_clock_rate", "last_time", "last_timestamp", "octets", "packets", "ssrc")

    def __init__(self, ssrc: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self._clock_rate = clock_rate
        self.packets = 0
        self.octets = 0
        self.last_timestamp: int | None = None
        self.last_time: float | None = None

    def sent(self, payload_size: int, timestamp: int, now: float, *, newest: bool = True) -> None:
        """A packet with ``payload_size`` payload octets left at ``now`` (Unix seconds).

        ``newest``: it carries the newest timestamp (not a retransmission or a reordered one).
        """
        self.packets += 1
        self.octets += payload_size
        if newest:
            self.last_timestamp = timestamp
            self.last_time = now

    def sender_report(self, now: float, rtp_timestamp: int | None = None) -> RtcpSrPacket | None:
        """The sender report at ``now`` (Unix seconds); ``None`` before the first packet.

        ``rtp_timestamp``: the stream's RTP time at ``now`` when the caller knows it better (from
        the publisher's own sender report); otherwise the newest packet's timestamp advanced by
        the time since it left.
        """
        if self.last_timestamp is None or self.last_time is None:
            return None
        if rtp_timestamp is None:
            elapsed = max(0.0, now - self.last_time)
            rtp_timestamp = self.last_timestamp + round(elapsed * self._clock_rate)
        rtp_ts = rtp_timestamp & TS_MASK
        return RtcpSrPacket(
            ssrc=self.ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp_timestamp(now),
                rtp_timestamp=rtp_ts,
                packet_count=self.packets & 0xFFFF_FFFF,
                octet_count=self.octets & 0xFFFF_FFFF,
            ),
        )
