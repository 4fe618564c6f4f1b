"""The Python face of the C fan-out (``sfu._native``), and its pure-Python stand-ins.

The forwarding path has two implementations of the per-copy work: ``DownTrack.forward_packet``
in Python, which handles every case, and ``sfu._native.fan_out`` in C, which handles the
steady state (a connected subscriber that is not paused and not waiting for a keyframe) for all
subscribers of one packet in one call. Both share the subscriber's munger and counters, so a copy
can move between them at any packet: the munger is ``sfu._native.Munger`` (the same arithmetic
as :class:`~sfu.munger.RtpMunger`) and the counters live in a lane.

Without the compiled module (a machine without a C compiler at install time) :data:`NATIVE` is
false, the mungers are :class:`~sfu.munger.RtpMunger`, lanes are :class:`PyLane` (never armed)
and everything goes through the Python path.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sfu.munger import RtpMunger
from sfu.rtp_write import Outgoing

try:
    from sfu import _native
except ImportError:  # pragma: no cover - the package was installed without its C extension
    _native = None  # type: ignore[assignment]

NATIVE: Final[bool] = _native is not None


class Munger(Protocol):
    """What the forwarding path needs of a munger (:class:`~sfu.munger.RtpMunger` or the C one)."""

    @property
    def started(self) -> bool: ...
    @property
    def newest(self) -> bool: ...
    def munge_fast(
        self, source: object, sequence_number: int, timestamp: int, now: float
    ) -> tuple[int, int] | None: ...
    def resync(self) -> None: ...
    def translate_timestamp(self, timestamp: int) -> int | None: ...
    def original_sequence_number(self, out_sequence_number: int) -> int | None: ...


class Lane(Protocol):
    """One subscriber's copy of one track: its counters, and whether C sends it."""

    packets: int
    octets: int
    packets_sent: int
    rtx_tokens: float

    @property
    def armed(self) -> bool: ...
    @property
    def last_timestamp(self) -> int | None: ...
    @property
    def last_time(self) -> float | None: ...
    def sent(  # noqa: PLR0917 (positional: the C twin parses a tuple)
        self, payload_size: int, size: int, timestamp: int, wallclock: float, newest: bool, forwarded: bool
    ) -> None: ...
    def disarm(self) -> None: ...


@dataclass(frozen=True, slots=True)
class NativeTarget:
    """Where a lane sends: the ICE socket's descriptor (the lane keeps its own duplicate), the
    peer's numeric address, and the SRTP context with the address of libsrtp's protect; ``owner``
    keeps the context alive."""

    fd: int
    host: str
    port: int
    srtp_ctx: int
    protect: int
    owner: Any


class PyLane:
    """:class:`Lane` without the C extension: counters only, never armed."""

    __slots__ = (
        "_last_time",
        "_last_timestamp",
        "octets",
        "packets",
        "packets_sent",
        "rtx_burst",
        "rtx_share",
        "rtx_tokens",
    )

    def __init__(self, rtx_share: float, rtx_burst: float) -> None:
        self.packets = 0
        self.octets = 0
        self.packets_sent = 0
        self.rtx_share = rtx_share
        self.rtx_burst = rtx_burst
        self.rtx_tokens = rtx_burst
        self._last_timestamp: int | None = None
        self._last_time: float | None = None

    @property
    def armed(self) -> bool:
        return False

    @property
    def last_timestamp(self) -> int | None:
        return self._last_timestamp

    @property
    def last_time(self) -> float | None:
        return self._last_time

    def sent(  # noqa: PLR0917 (positional: the C twin parses a tuple)
        self, payload_size: int, size: int, timestamp: int, wallclock: float, newest: bool, forwarded: bool
    ) -> None:
        """A packet left: ``newest`` carries the newest timestamp; ``forwarded`` (not a resend)
        refills the retransmission budget."""
        self.packets += 1
        self.octets += payload_size
        if newest:
            self._last_timestamp = timestamp
            self._last_time = wallclock
        if forwarded:
            self.packets_sent += 1
            tokens = self.rtx_tokens + size * self.rtx_share
            self.rtx_tokens = tokens if tokens < self.rtx_burst else self.rtx_burst

    def disarm(self) -> None:
        pass


def new_munger(clock_rate: int) -> Munger:
    """A munger with random starting points (RFC 3550 5.1): the C one when it is built."""
    if not NATIVE:
        return RtpMunger(clock_rate)
    first_seq, first_ts = secrets.randbelow(1 << 15), secrets.randbelow(1 << 32)
    return _native.Munger(clock_rate, first_sequence_number=first_seq, first_timestamp=first_ts)


def new_lane(munger: Munger, rtx_share: float, rtx_burst: float) -> Lane:
    if NATIVE and isinstance(munger, _native.Munger):
        return _native.Lane(munger, rtx_share, rtx_burst)
    return PyLane(rtx_share, rtx_burst)


Header = tuple[int, bytes, int, int, int]  # SSRC, mid element, ids: abs-send-time, toffset, level


def arm(lane: Lane, target: NativeTarget, header: Header, pt_map: dict[int, int]) -> bool:
    """Let C send ``lane`` from now on (``header``: SSRC, mid element, extension ids of
    abs-send-time, transmission offset and audio level). ``False`` without the extension."""
    if not NATIVE or not isinstance(lane, _native.Lane):
        return False
    ssrc, mid_element, abs_id, toffset_id, level_id = header
    lane.arm(
        ssrc,
        mid_element,
        abs_id,
        toffset_id,
        level_id,
        pt_map,
        target.fd,
        target.host,
        target.port,
        target.srtp_ctx,
        target.protect,
        target.owner,
    )
    return True


# (sent, sent bytes, stale, failed, indices left to Python or None, monotonic time of the sample)
FanOutResult = tuple[int, int, int, int, Sequence[int] | None, float]


def fan_out_packet(lanes: list[Lane], out: Outgoing, source: object, now: float, sample: int) -> FanOutResult:
    """Send ``out`` to every armed lane in C; the indices of the others are left to Python
    (all of them without the extension). ``sample``: the index whose send time is returned
    (``-1.0`` when that copy was not sent here)."""
    if not NATIVE:
        return 0, 0, 0, 0, range(len(lanes)), -1.0
    packet = out.packet
    return _native.fan_out(
        lanes,
        packet.payload_type,
        packet.sequence_number,
        packet.timestamp,
        out.byte0,
        out.marker,
        out.csrc,
        out.tail,
        out.payload_size,
        out.abs3,
        out.toffset,
        out.level,
        source,
        now,
        out.wallclock,
        sample,
    )
