"""aiortc client peers for end-to-end tests: a publisher with synthetic media, decoding subscribers."""

from __future__ import annotations

import asyncio
import math
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import av
from aiortc import (
    MediaStreamError,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import AudioStreamTrack

from sfu.node import SfuNode

WIDTH, HEIGHT = 320, 240


class MovingVideo(VideoStreamTrack):
    """Frames whose brightness changes over time, so each one encodes to something new."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        luma = (self.count * 9) % 200 + 20
        frame.planes[0].update(bytes([luma]) * frame.planes[0].buffer_size)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        self.count += 1
        return frame


class ToneAudio(AudioStreamTrack):
    """A loud 440 Hz tone (so the audio-level extension says someone is speaking)."""

    def __init__(self, amplitude: int = 12000) -> None:
        super().__init__()
        self.amplitude = amplitude
        self.sample = 0

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()  # paces and stamps a silent 20 ms frame
        samples = frame.samples
        data = b"".join(
            struct.pack("<h", int(self.amplitude * math.sin(2 * math.pi * 440 * (self.sample + i) / 48000)))
            for i in range(samples)
        )
        self.sample += samples
        frame.planes[0].update(data * len(frame.layout.channels) if frame.format.is_packed else data)
        return frame


def new_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


@dataclass
class Publisher:
    pc: RTCPeerConnection
    video: MovingVideo
    audio: ToneAudio
    track_ids: dict[str, str]  # kind -> track id


async def publish(
    node: SfuNode,
    space: str,
    who: str,
    *,
    audio_amplitude: int = 12000,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> Publisher:
    pc = new_pc()
    video, audio = MovingVideo(*size), ToneAudio(audio_amplitude)
    pc.addTransceiver(video, direction="sendonly")
    pc.addTransceiver(audio, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer = await node.publish(space, who, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
    return Publisher(pc, video, audio, {t.kind: t.track_id for t in answer.tracks})


@dataclass
class Subscriber:
    pc: RTCPeerConnection
    frames: dict[str, list[av.VideoFrame | av.AudioFrame]] = field(
        default_factory=lambda: {"video": [], "audio": []}
    )
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def wait_for(self, video: int, audio: int, within_s: float = 15.0) -> None:
        """Wait until at least this many frames of each kind were decoded."""
        deadline = asyncio.get_running_loop().time() + within_s
        while len(self.frames["video"]) < video or len(self.frames["audio"]) < audio:
            if asyncio.get_running_loop().time() > deadline:
                got = {k: len(v) for k, v in self.frames.items()}
                raise TimeoutError(f"decoded {got}, wanted video={video} audio={audio}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _consume(track: MediaStreamTrack, sink: list[av.VideoFrame | av.AudioFrame]) -> None:
    try:
        while True:
            sink.append(await track.recv())
            if len(sink) > 500:
                del sink[:250]
    except MediaStreamError:
        pass


async def subscribe(node: SfuNode, space: str, who: str, track_ids: Iterable[str]) -> Subscriber:
    pc = new_pc()
    sub = Subscriber(pc)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        sub.tasks.append(asyncio.create_task(_consume(track, sub.frames[track.kind])))

    for track_id in track_ids:
        await node.subscribe(space, who, track_id)
    await negotiate(node, space, who, sub)
    return sub


async def negotiate(node: SfuNode, space: str, who: str, sub: Subscriber) -> None:
    offer = await node.subscriber_offer(space, who)
    await sub.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
    await sub.pc.setLocalDescription(await sub.pc.createAnswer())
    await node.subscriber_answer(space, who, sub.pc.localDescription.sdp)


def decoder_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.endswith("-decoder"))
