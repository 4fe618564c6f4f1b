"""Writing forwarded RTP packets straight to bytes, without building aiortc packet objects.

The forwarding path writes one packet per subscriber for every upstream packet. What is common
to all subscribers of one upstream packet (payload, padding, CSRCs, marker, the per-hop values
of the header extensions) is prepared once in an :class:`Outgoing`; what is fixed for one
subscriber (its SSRC, its extension ids, its ``mid`` element) once in a :class:`HeaderWriter`.
Per subscriber and packet only the payload type, sequence number and timestamp change.

The output is what :meth:`aiortc.rtp.RtpPacket.serialize` would write with the subscriber's
:func:`~sfu.rtp_ext.extension_map` and :func:`~sfu.rtp_ext.rewrite_extensions` (same element
order: mid, abs-send-time, transmission offset, audio level; one-byte header form), except
that the transmission offset is written as the 3 bytes RFC 5450 defines and padding octets are
zeros. A subscriber whose ids do not fit the one-byte form (id above 14, or a mid longer than
16 bytes) is written by aiortc's serializer instead (:attr:`HeaderWriter.fast` is ``False``).

Pure: no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final

from aiortc.rtp import RtpPacket

from sfu.rtp_ext import URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, URI_MID, URI_TOFFSET, abs_send_time

_HEADER: Final = struct.Struct("!BBHII")
_ONE_BYTE_PROFILE: Final = 0xBEDE
# The extension block header for a body of n 32-bit words, and the zero padding to a word.
_EXT_HEADERS: Final = tuple(struct.pack("!HH", _ONE_BYTE_PROFILE, words) for words in range(256))
_PADS: Final = (b"", b"\x00", b"\x00\x00", b"\x00\x00\x00")
_MAX_ONE_BYTE_ID: Final = 14


class Outgoing:
    """What every subscriber's copy of one upstream packet shares (built once per packet)."""

    __slots__ = (
        "abs3",
        "byte0",
        "csrc",
        "level",
        "marker",
        "packet",
        "payload_size",
        "tail",
        "toffset",
        "wallclock",
    )

    def __init__(self, packet: RtpPacket, wallclock: float) -> None:
        self.packet = packet
        self.wallclock = wallclock
        csrc = packet.csrc
        padding = packet.padding_size
        # version 2, padding flag and CSRC count; the extension bit is the writer's
        self.byte0 = 0x80 | (0x20 if padding else 0) | len(csrc)
        self.marker = 0x80 if packet.marker else 0
        self.csrc = b"".join(struct.pack("!I", c) for c in csrc) if csrc else b""
        self.payload_size = len(packet.payload)
        self.tail = packet.payload + (bytes(padding - 1) + bytes([padding]) if padding else b"")
        # abs-send-time is the node's send time: one value per upstream packet suffices.
        self.abs3 = struct.pack("!I", abs_send_time(wallclock))[1:]
        extensions = packet.extensions
        level = extensions.audio_level
        self.level: bytes | None = None
        if isinstance(level, tuple) and len(level) == 2 and isinstance(level[1], int):
            self.level = bytes([(0x80 if level[0] else 0) | (level[1] & 0x7F)])
        offset = extensions.transmission_offset
        self.toffset = struct.pack("!i", offset << 8)[:3] if isinstance(offset, int) else None


class HeaderWriter:
    """Writes one subscriber's packets: its SSRC, its extension ids, its mid."""

    __slots__ = ("_abs_id", "_level_id", "_mid_element", "_toffset_id", "fast", "native_header", "ssrc")

    def __init__(self, ssrc: int, mid: str | None, extensions: Iterable[tuple[str, int]]) -> None:
        self.ssrc = ssrc
        ids = dict(extensions)
        mid_id = ids.get(URI_MID, 0)
        mid_bytes = mid.encode("utf8") if mid is not None else b""
        self.fast = all(0 <= i <= _MAX_ONE_BYTE_ID for i in ids.values()) and (
            1 <= len(mid_bytes) <= 16 or not mid_id or mid is None
        )
        self._mid_element = (
            bytes([(mid_id << 4) | (len(mid_bytes) - 1)]) + mid_bytes if mid_id and mid_bytes else b""
        )
        abs_id = ids.get(URI_ABS_SEND_TIME, 0)
        self._abs_id = bytes([(abs_id << 4) | 2]) if abs_id else b""
        toffset_id = ids.get(URI_TOFFSET, 0)
        self._toffset_id = bytes([(toffset_id << 4) | 2]) if toffset_id else b""
        level_id = ids.get(URI_AUDIO_LEVEL, 0)
        self._level_id = bytes([level_id << 4]) if level_id else b""
        # The same header for the C fan-out (sfu._native): SSRC, mid element, extension ids.
        self.native_header = (ssrc, self._mid_element, abs_id, toffset_id, level_id)

    def write(self, out: Outgoing, payload_type: int, sequence_number: int, timestamp: int) -> bytes:
        """The whole packet (``fast`` writers only)."""
        body = self._mid_element
        if self._abs_id:
            body += self._abs_id + out.abs3
        if self._toffset_id and out.toffset is not None:
            body += self._toffset_id + out.toffset
        if self._level_id and out.level is not None:
            body += self._level_id + out.level
        if body:
            pad = -len(body) & 3
            header = _HEADER.pack(
                out.byte0 | 0x10, out.marker | payload_type, sequence_number, timestamp, self.ssrc
            )
            return b"".join(
                (header, out.csrc, _EXT_HEADERS[(len(body) + pad) >> 2], body, _PADS[pad], out.tail)
            )
        header = _HEADER.pack(out.byte0, out.marker | payload_type, sequence_number, timestamp, self.ssrc)
        return b"".join((header, out.csrc, out.tail))
