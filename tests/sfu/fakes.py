"""Synthetic packets and in-memory sinks for forwarder tests (no sockets, no aiortc peers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc.rtp import HeaderExtensions, RtcpPacket, RtpPacket

from sfu.codecs import make_codec
from sfu.fastpath import NativeTarget
from sfu.forwarder import DownstreamParams, DownTrack, NativeWire, UpstreamParams, UpTrack
from sfu.forwarding import ForwardingTable
from sfu.rtp_ext import URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, URI_MID, extension_map

VP8_KEY = bytes([0x10, 0x00])  # S=1, PID=0, frame tag with P=0
VP8_DELTA_START = bytes([0x10, 0x01])
VP8_CONT = bytes([0x00, 0x55])

SUB_EXTENSIONS = ((URI_MID, 1), (URI_ABS_SEND_TIME, 3), (URI_AUDIO_LEVEL, 2))


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


@dataclass
class Sink:
    """Collects what would have gone on the wire."""

    data: list[bytes] = field(default_factory=list)
    connected: bool = True

    async def __call__(self, data: bytes) -> bool:
        if not self.connected:
            return False
        self.data.append(data)
        return True

    def send(self, data: bytes) -> bool:
        """The synchronous form down-tracks use for RTP."""
        if not self.connected:
            return False
        self.data.append(data)
        return True

    def rtp(self, ext: tuple[tuple[str, int], ...] = SUB_EXTENSIONS) -> list[RtpPacket]:
        return [RtpPacket.parse(d, extension_map(ext)) for d in self.data]

    def rtcp(self) -> list[object]:
        out: list[object] = []
        for d in self.data:
            out.extend(RtcpPacket.parse(d))
        return out


def video_up(
    table: ForwardingTable[DownTrack], clock: Clock, rtcp: Sink, *, track_id: str = "pub/0", ssrc: int = 1111
) -> UpTrack:
    params = UpstreamParams(
        kind="video",
        mid="0",
        codecs=(make_codec("video/VP8", 90000, 120, rtx_payload_type=121),),
        ssrc=ssrc,
        rtx_ssrc=2222,
    )
    table.add_track(track_id, "pub", "video")
    return UpTrack(
        track_id=track_id,
        publisher_id="pub",
        params=params,
        send_rtcp=rtcp,
        rtcp_ssrc=9999,
        targets=lambda: table.targets(track_id),
        monotonic=clock,
        wallclock=clock,
    )


def audio_up(
    table: ForwardingTable[DownTrack], clock: Clock, rtcp: Sink, levels: list[tuple[str, int, float]]
) -> UpTrack:
    params = UpstreamParams(kind="audio", mid="1", codecs=(make_codec("audio/opus", 48000, 111, channels=2),))
    table.add_track("pub/1", "pub", "audio")
    return UpTrack(
        track_id="pub/1",
        publisher_id="pub",
        params=params,
        send_rtcp=rtcp,
        rtcp_ssrc=9999,
        targets=lambda: table.targets("pub/1"),
        on_audio_level=lambda t, lvl, now: levels.append((t, lvl, now)),
        monotonic=clock,
        wallclock=clock,
    )


def subscribe(
    table: ForwardingTable[DownTrack],
    up: UpTrack,
    clock: Clock,
    sink: Sink,
    *,
    subscriber: str = "sub",
    ssrc: int = 5000,
    rtx: bool = True,
    mid: str = "3",
    wire: NativeWire | None = None,
) -> DownTrack:
    if up.kind == "video":
        codecs = (make_codec("video/VP8", 90000, 97, rtx_payload_type=98 if rtx else None),)
    else:
        codecs = (make_codec("audio/opus", 48000, 96, channels=2),)
    params = DownstreamParams(
        kind=up.kind,
        mid=mid,
        ssrc=ssrc,
        rtx_ssrc=ssrc + 1,
        cname="sfu",
        codecs=codecs,
        extensions=SUB_EXTENSIONS,
    )
    down = DownTrack(
        subscriber_id=subscriber,
        up=up,
        kind=up.kind,
        ssrc=ssrc,
        rtx_ssrc=ssrc + 1,
        params=params,
        send_rtp=sink.send,
        wire=wire,
        monotonic=clock,
        wallclock=clock,
    )
    table.subscribe(subscriber, up.track_id, down)
    return down


def rtp(seq: int, ts: int, payload: bytes, *, ssrc: int = 1111, pt: int = 120, marker: int = 0) -> RtpPacket:
    p = RtpPacket(
        payload_type=pt, marker=marker, sequence_number=seq & 0xFFFF, timestamp=ts & 0xFFFFFFFF, ssrc=ssrc
    )
    p.payload = payload
    p.extensions = HeaderExtensions(mid="0", abs_send_time=5)
    return p


class Wire:
    """A subscriber's transport as the forwarder sees it: connected or not, never native."""

    def __init__(self, connected: bool = False) -> None:
        self.up = connected

    def connected(self) -> bool:
        return self.up

    def native_target(self) -> NativeTarget | None:
        return None
