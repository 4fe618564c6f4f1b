"""A subscriber that counts media at the socket instead of decoding it.

A decoding aiortc subscriber costs the load generator far more than forwarding the same packets
costs the SFU (SRTP unprotect, parsing, jitter buffer, a VP8 decoder thread per track), so a few
of them saturate the load generator before the server under test. A counting subscriber is
still a real peer: it completes ICE and DTLS with the server, its RTCP (receiver reports) still
flows and ICE consent stays fresh. Only its SRTP packets stop at the socket: the datagram
handler of its ICE connection counts them from their RTP header (which SRTP leaves in the
clear: SSRC, sequence number, marker, payload type) and hands everything else (STUN, DTLS,
SRTCP) to aiortc as usual.

Counting without decrypting is validated on a sample: every ``validate_every``-th packet is
authenticated and decrypted with the subscriber's own SRTP session (``srtp_ok`` /
``srtp_failed``), so a server that sends garbage or to the wrong keys is caught.

Per SSRC it keeps the first and highest extended sequence number and the packets received, so
loss is ``expected - received`` as in an RTCP receiver report (duplicates are not told apart);
video frames are packets with the marker bit on a video payload type.

aiortc/aioice internals used here (the load generator's own business, not the server's):
``RTCDtlsTransport.transport`` / ``_rx_srtp``, ``RTCIceTransport._connection``,
``Connection._protocols`` and ``StunProtocol.datagram_received`` (replaced on the instance).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection

_MLINE = re.compile(r"^m=(audio|video) \d+ \S+ ([\d ]+)\r?$", re.MULTILINE)


@dataclass
class _Stream:
    first: int
    highest: int
    received: int = 1


@dataclass
class SocketCounter:
    """Counts the SRTP packets arriving on one subscriber's connection(s)."""

    validate_every: int = 64
    video_payload_types: set[int] = field(default_factory=set)
    packets: int = 0
    video_frames: int = 0
    audio_packets: int = 0
    srtp_ok: int = 0
    srtp_failed: int = 0
    streams: dict[int, _Stream] = field(default_factory=dict)
    _installed: set[int] = field(default_factory=set)

    @property
    def lost(self) -> int:
        return sum(max(0, s.highest - s.first + 1 - s.received) for s in self.streams.values())

    def install(self, pc: RTCPeerConnection) -> int:
        """Take over the SRTP packets of ``pc``'s (new) transports; returns how many were hooked.

        Call after the local and remote descriptions are set (the transports exist then, and no
        SRTP flows before DTLS completes).
        """
        for kind, pts in _MLINE.findall(pc.remoteDescription.sdp if pc.remoteDescription else ""):
            if kind == "video":
                self.video_payload_types.update(int(p) for p in pts.split())
        hooked = 0
        for transceiver in pc.getTransceivers():
            dtls: Any = transceiver.receiver.transport
            if dtls is None:
                continue
            protocols: list[Any] = list(dtls.transport._connection._protocols)
            for protocol in protocols:
                if id(protocol) in self._installed:
                    continue
                self._installed.add(id(protocol))
                protocol.datagram_received = self._handler(protocol.datagram_received, dtls)
                hooked += 1
        return hooked

    def _handler(self, original: Callable[[bytes, Any], None], dtls: Any) -> Callable[[bytes, Any], None]:
        streams = self.streams
        video_pts = self.video_payload_types

        def datagram_received(data: bytes, addr: Any) -> None:
            if len(data) < 12 or not 127 < data[0] < 192 or 192 <= data[1] <= 208:
                original(data, addr)  # STUN, DTLS, SRTCP: aiortc's business
                return
            self.packets += 1
            ssrc = int.from_bytes(data[8:12], "big")
            seq = (data[2] << 8) | data[3]
            stream = streams.get(ssrc)
            if stream is None:
                streams[ssrc] = _Stream(seq, seq)
            else:
                stream.received += 1
                highest = stream.highest
                extended = highest + ((seq - highest + 0x8000) & 0xFFFF) - 0x8000
                if extended > highest:
                    stream.highest = extended
            marker_pt = data[1]
            if marker_pt & 0x7F in video_pts:
                if marker_pt & 0x80:
                    self.video_frames += 1
            else:
                self.audio_packets += 1
            if self.packets % self.validate_every == 1:
                self._validate(dtls, data)

        return datagram_received

    def _validate(self, dtls: Any, data: bytes) -> None:
        session = dtls._rx_srtp
        try:
            if session is None:
                raise ValueError("no SRTP session")
            session.unprotect(data)
        except Exception:
            self.srtp_failed += 1
        else:
            self.srtp_ok += 1
