"""Per-subscriber rewriting of RTP sequence numbers and timestamps.

A subscriber sees one continuous stream per subscribed slot, whatever happens upstream: its
own SSRC, sequence numbers that go up by one per forwarded packet and timestamps that keep
moving forward, across pauses, publisher mutes, upstream SSRC changes and switches from one
published track to another. Each of those starts a new *segment*: the first packet of the
segment is placed right after the last packet sent (next sequence number; timestamp advanced by
the wall-clock time that passed, at least one tick), and later packets of the segment keep
their upstream spacing, so upstream loss stays visible to the subscriber (who NACKs it) and
reordering is preserved.

Pure: no I/O; the caller passes the time.
"""

from __future__ import annotations

import secrets
from collections.abc import Hashable
from dataclasses import dataclass

from sfu.seqnum import SEQ_MASK, TS_MASK, seq_diff, ts_diff

# Packets of a segment that are this far (or more) behind the newest are stale, not reordered.
MAX_REORDER_PKTS = 1 << 14


@dataclass(frozen=True, slots=True)
class Munged:
    """The rewritten header fields of one forwarded packet."""

    sequence_number: int
    timestamp: int


class RtpMunger:
    """Maps (source, sequence number, timestamp) of forwarded packets to one outgoing stream.

    The upstream counters are extended (unwrapped) inline, relative to the newest value of the
    current segment, as :class:`~sfu.seqnum.Unwrapper` would: :meth:`munge_fast` runs once per
    forwarded packet and subscriber, so it avoids calls and allocations beyond its result.
    """

    __slots__ = (
        "_anchor_in_seq",
        "_clock_rate",
        "_hi_in_seq",
        "_hi_in_ts",
        "_highest_out_seq",
        "_last_out_time",
        "_last_out_ts",
        "_need_anchor",
        "_seq_offset",
        "_source",
        "_ts_offset",
        "newest",
    )

    def __init__(
        self,
        clock_rate: int,
        *,
        first_sequence_number: int | None = None,
        first_timestamp: int | None = None,
    ) -> None:
        if clock_rate <= 0:
            raise ValueError("clock_rate must be positive")
        self._clock_rate = clock_rate
        # Random starting points (RFC 3550 5.1), low in the sequence space so SRTP's rollover
        # guess stays easy, as browsers do.
        first_seq = secrets.randbelow(1 << 15) if first_sequence_number is None else first_sequence_number
        first_ts = secrets.randbelow(1 << 32) if first_timestamp is None else first_timestamp
        # The "previous" packet sits just before the first one sent.
        self._highest_out_seq = (first_seq & SEQ_MASK) - 1
        self._last_out_ts = (first_ts & TS_MASK) - 1
        self._last_out_time: float | None = None
        self._source: Hashable | None = None
        self._need_anchor = True
        # Extended upstream sequence number and timestamp of the newest packet of the segment
        # (``None`` before the first segment).
        self._hi_in_seq: int | None = None
        self._hi_in_ts = 0
        self._seq_offset = 0
        self._ts_offset = 0
        self._anchor_in_seq = 0
        # Whether the packet munged last is the newest so far (not a reordered older one).
        self.newest = False

    @property
    def started(self) -> bool:
        """At least one packet was munged."""
        return self._last_out_time is not None

    @property
    def last_sequence_number(self) -> int:
        """The highest outgoing sequence number so far (or the one before the first)."""
        return self._highest_out_seq & SEQ_MASK

    @property
    def last_timestamp(self) -> int:
        """The outgoing timestamp of the newest packet (or the one before the first)."""
        return self._last_out_ts & TS_MASK

    @property
    def last_time(self) -> float | None:
        """When the newest packet was munged (the caller's clock), ``None`` before the first."""
        return self._last_out_time

    @property
    def source(self) -> Hashable | None:
        return self._source

    def resync(self) -> None:
        """Start a new segment at the next packet (after a pause, a mute, a keyframe wait)."""
        self._need_anchor = True

    def munge(self, source: Hashable, sequence_number: int, timestamp: int, now: float) -> Munged | None:
        """The outgoing sequence number and timestamp for a packet, or ``None`` to drop it.

        ``source`` identifies the upstream stream (for example the track and its SSRC); a new
        value starts a new segment. Dropped: packets older than the start of the current
        segment, and packets so old they cannot be told apart from wrapped ones.
        """
        out = self.munge_fast(source, sequence_number, timestamp, now)
        return None if out is None else Munged(out[0], out[1])

    def munge_fast(
        self, source: Hashable, sequence_number: int, timestamp: int, now: float
    ) -> tuple[int, int] | None:
        """:meth:`munge` as a plain ``(sequence number, timestamp)`` tuple (the forwarding path)."""
        if self._need_anchor or (source is not self._source and source != self._source):
            self._source = source
            self._anchor(sequence_number, timestamp, now)
        hi_seq = self._hi_in_seq
        assert hi_seq is not None
        # Unwrap: the extended value nearest to the newest one (serial-number arithmetic).
        in_seq = hi_seq + ((((sequence_number & SEQ_MASK) - hi_seq + 0x8000) & SEQ_MASK) - 0x8000)
        hi_ts = self._hi_in_ts
        in_ts = hi_ts + ((((timestamp & TS_MASK) - hi_ts + 0x8000_0000) & TS_MASK) - 0x8000_0000)
        if in_seq > hi_seq:
            self._hi_in_seq = hi_seq = in_seq
        if in_ts > hi_ts:
            self._hi_in_ts = in_ts
        if in_seq < self._anchor_in_seq or hi_seq - in_seq >= MAX_REORDER_PKTS:
            return None
        out_seq = in_seq + self._seq_offset
        out_ts = in_ts + self._ts_offset
        if out_seq > self._highest_out_seq:
            self._highest_out_seq = out_seq
            self._last_out_ts = out_ts
            self._last_out_time = now
            self.newest = True
        else:
            self.newest = False
        return out_seq & SEQ_MASK, out_ts & TS_MASK

    def _anchor(self, sequence_number: int, timestamp: int, now: float) -> None:
        self._need_anchor = False
        in_seq = sequence_number & SEQ_MASK
        in_ts = timestamp & TS_MASK
        self._hi_in_seq = in_seq
        self._hi_in_ts = in_ts
        if self._last_out_time is None:
            ts_step = 1
        else:
            ts_step = max(1, round((now - self._last_out_time) * self._clock_rate))
        self._seq_offset = self._highest_out_seq + 1 - in_seq
        self._ts_offset = self._last_out_ts + ts_step - in_ts
        self._anchor_in_seq = in_seq

    def translate_timestamp(self, timestamp: int) -> int | None:
        """The outgoing timestamp for an upstream timestamp of the current segment's source."""
        if self._source is None or self._need_anchor or self._hi_in_seq is None:
            return None
        hi_ts = self._hi_in_ts
        in_ts = hi_ts + ts_diff(timestamp & TS_MASK, hi_ts & TS_MASK)
        return (in_ts + self._ts_offset) & TS_MASK

    def original_sequence_number(self, out_sequence_number: int) -> int | None:
        """The upstream sequence number behind an outgoing one of the current segment (for NACKs).

        ``None`` when it belongs to an earlier segment or was never sent.
        """
        if self._source is None or self._need_anchor or self._hi_in_seq is None:
            return None
        out_ext = self._highest_out_seq + seq_diff(out_sequence_number, self._highest_out_seq & SEQ_MASK)
        if out_ext > self._highest_out_seq:
            return None
        in_seq = out_ext - self._seq_offset
        if in_seq < self._anchor_in_seq:
            return None
        return in_seq & SEQ_MASK
