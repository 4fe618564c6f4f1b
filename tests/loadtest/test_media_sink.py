"""The counting subscriber's datagram handler, with synthetic datagrams (no sockets)."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

from loadtest.media_sink import SocketCounter


def rtp(seq: int, *, ssrc: int = 1, pt: int = 96, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, 0, ssrc) + b"x" * 20


class Session:
    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def unprotect(self, data: bytes) -> bytes:
        self.seen.append(data)
        if data[12:13] == b"!":
            raise ValueError("auth failed")
        return data


def test_counts_loss_frames_and_validates_a_sample() -> None:
    counter = SocketCounter(validate_every=3, video_payload_types={96})
    passed: list[bytes] = []
    session = Session()
    handler = counter._handler(lambda data, addr: passed.append(data), SimpleNamespace(_rx_srtp=session))
    addr: Any = ("127.0.0.1", 1)
    for seq in (65534, 65535, 1, 2, 0):  # wraps; 0 arrives late; nothing lost in the end
        handler(rtp(seq, marker=seq == 2), addr)
    for seq in (10, 13):  # audio: 11 and 12 lost
        handler(rtp(seq, ssrc=2, pt=111), addr)
    handler(b"\x00\x01" + b"\x00" * 18, addr)  # STUN: aiortc's
    handler(b"\x80\xc8" + b"\x00" * 26, addr)  # SRTCP sender report: aiortc's
    handler(b"\x17\xfe" + b"\x00" * 20, addr)  # DTLS: aiortc's
    assert counter.packets == 7
    assert counter.video_frames == 1
    assert counter.audio_packets == 2
    assert counter.lost == 2
    assert len(passed) == 3
    assert counter.srtp_ok == 3  # packets 1, 4 and 7
    bad = rtp(20, ssrc=3)[:12] + b"!" * 20
    for _ in range(3):
        handler(bad, addr)
    assert counter.srtp_failed == 1
