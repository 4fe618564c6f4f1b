"""Keyframes: spotting the first packet of one in a payload, and throttling requests for them.

A video subscriber can only start (or restart after a pause or a switch) on a keyframe, so the
forwarder holds a subscriber's video until the first packet of a keyframe and asks the publisher
for one. Those requests (PLI) are throttled per published track: at most one per
``min_interval_s`` seconds; a request made inside the interval is remembered and sent when it
ends, unless a keyframe arrived meanwhile.

Pure: no I/O; the caller passes the time.
"""

from __future__ import annotations

from typing import Final

DEFAULT_MIN_INTERVAL_S: Final = 1.0
# A subscriber that starts (or restarts) waits for a keyframe with a black picture: its requests
# may follow the previous one sooner. Still bounded, so a join storm cannot flood the publisher
# with keyframes (each is several times the size of a delta frame).
START_MIN_INTERVAL_S: Final = 0.25

_H264_IDR: Final = 5
_H264_SPS: Final = 7
_H264_STAP_A: Final = 24
_H264_FU_A: Final = 28


def _vp8_keyframe_start(payload: bytes) -> bool:
    """RFC 7741: payload descriptor, then the VP8 payload header of a partition start."""
    if not payload:
        return False
    first = payload[0]
    extended = first & 0x80
    start_of_partition = first & 0x10
    partition_index = first & 0x07
    if not start_of_partition or partition_index != 0:
        return False
    pos = 1
    if extended:
        if len(payload) < 2:
            return False
        x = payload[1]
        pos = 2
        if x & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            pos += 1
        if x & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    if len(payload) <= pos:
        return False
    # The P bit of the frame tag is 0 on keyframes.
    return payload[pos] & 0x01 == 0


def _stap_a_has_keyframe(payload: bytes) -> bool:
    pos = 1
    while pos + 2 < len(payload):
        size = (payload[pos] << 8) | payload[pos + 1]
        pos += 2
        if size == 0 or pos + size > len(payload):
            return False
        if payload[pos] & 0x1F in (_H264_IDR, _H264_SPS):
            return True
        pos += size
    return False


def _h264_keyframe_start(payload: bytes) -> bool:
    """RFC 6184: an IDR slice or SPS in a single NAL unit, STAP-A, or the start of an FU-A."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (_H264_IDR, _H264_SPS):
        return True
    if nal_type == _H264_STAP_A:
        return _stap_a_has_keyframe(payload)
    if nal_type == _H264_FU_A and len(payload) >= 2:
        fu_header = payload[1]
        return bool(fu_header & 0x80) and fu_header & 0x1F in (_H264_IDR, _H264_SPS)
    return False


def is_keyframe_start(codec_name: str, payload: bytes) -> bool:
    """Whether ``payload`` is the first RTP packet of a keyframe, for ``VP8`` or ``H264``.

    Audio and unknown codecs have no keyframes: every packet is a valid starting point, and
    this returns ``False``; callers check :func:`needs_keyframe` first.
    """
    name = codec_name.upper()
    if name == "VP8":
        return _vp8_keyframe_start(payload)
    if name == "H264":
        return _h264_keyframe_start(payload)
    return False


def needs_keyframe(codec_name: str) -> bool:
    """Whether a receiver of this codec must start on a keyframe."""
    return codec_name.upper() in ("VP8", "H264")


class KeyframeRequestThrottle:
    """At most one keyframe request per ``min_interval_s`` seconds; none are lost, extras merge."""

    __slots__ = ("_last_sent", "_min_interval_s", "_pending", "_pending_interval_s")

    def __init__(self, min_interval_s: float = DEFAULT_MIN_INTERVAL_S) -> None:
        if min_interval_s < 0:
            raise ValueError("min_interval_s must not be negative")
        self._min_interval_s = min_interval_s
        self._last_sent: float | None = None
        self._pending = False
        self._pending_interval_s = min_interval_s

    @property
    def pending(self) -> bool:
        """A request is waiting for the interval to end."""
        return self._pending

    def request(self, now: float, min_interval_s: float | None = None) -> bool:
        """Someone needs a keyframe. ``True``: send a request now. ``False``: it is pending.

        ``min_interval_s``: a shorter interval for this request (a subscriber starting), at
        most the throttle's own.
        """
        interval = self._min_interval_s
        if min_interval_s is not None:
            interval = min(min_interval_s, interval)
        if self._last_sent is None or now - self._last_sent >= interval:
            self._last_sent = now
            self._pending = False
            self._pending_interval_s = self._min_interval_s
            return True
        self._pending_interval_s = min(self._pending_interval_s, interval) if self._pending else interval
        self._pending = True
        return False

    def poll(self, now: float) -> bool:
        """Called periodically: ``True`` when a pending request is due now."""
        if self._pending and (self._last_sent is None or now - self._last_sent >= self._pending_interval_s):
            self._last_sent = now
            self._pending = False
            self._pending_interval_s = self._min_interval_s
            return True
        return False

    def defer(self) -> None:
        """Mark a request as pending without sending one now; :meth:`poll` sends it when due."""
        if not self._pending:
            self._pending_interval_s = self._min_interval_s
        self._pending = True

    def keyframe_received(self) -> None:
        """A keyframe arrived: whoever was waiting has it, so a pending request is dropped."""
        self._pending = False
        self._pending_interval_s = self._min_interval_s
