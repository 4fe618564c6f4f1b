"""Media through signalling: venue permissions, offer/answer over the socket, aiortc peers decoding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import av
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiortc import MediaStreamTrack, RTCSessionDescription

from loadtest.sio import LeanClient
from sfu import aiortc_glue
from sfu.node import SfuEvent, SfuNode
from signalling.gateway import Gateway
from signalling.ids import SpaceId
from signalling.kinds import SpaceKind
from signalling.media_bridge import MediaBridge, media_sections
from signalling.media_nodes import SingleNode
from signalling.node_client import LocalNode
from signalling.runtime import SignallingRuntime, StaticDirectory
from signalling.spaces import SpaceConfig
from tests.sfu.peers import MovingVideo, ToneAudio, new_pc
from tests.signalling.test_runtime import EVENT, TokenAdmitter

pytestmark = pytest.mark.slow
SPACES = [
    SpaceConfig(SpaceId("hall"), SpaceKind.ROOM, 10, title="Hall"),
    SpaceConfig(SpaceId("stage"), SpaceKind.STAGE, 10, title="Stage"),
]


@dataclass
class Platform:
    url: str
    node: SfuNode


@pytest.fixture
async def platform(redis_client: aioredis.Redis, redis_url: str) -> AsyncIterator[Platform]:
    redis = aioredis.Redis.from_url(redis_url)
    runtime = SignallingRuntime(redis, StaticDirectory({EVENT: SPACES}), instance="media", tick_ms=100)
    gateway = Gateway(TokenAdmitter(), runtime)
    bridges: list[MediaBridge] = []

    def to_bridge(event: SfuEvent) -> None:  # the node exists before the bridge that listens
        bridges[0].on_sfu_event(event)

    node = SfuNode(ice_host_addresses=("127.0.0.1",), on_event=to_bridge)
    bridge = MediaBridge(SingleNode(LocalNode(node)), gateway, runtime.observe_speaker)
    bridges.append(bridge)
    runtime.attach_media(bridge)
    app = web.Application()
    gateway.attach(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    await runtime.start(gateway)
    yield Platform(str(server.make_url("/")), node)
    await runtime.stop()
    await bridge.stop()
    await node.close()
    aiortc_glue.set_ice_host_addresses(None)
    await server.close()
    await redis.aclose()


@dataclass
class Participant:
    sio: LeanClient
    events: list[tuple[str, Any]] = field(default_factory=list)
    frames: dict[str, list[Any]] = field(default_factory=lambda: {"video": [], "audio": []})
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pc = new_pc()
        self.pub = new_pc()

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tasks.append(asyncio.create_task(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        sink = self.frames[track.kind]
        while True:
            try:
                frame: av.VideoFrame | av.AudioFrame = await track.recv()
            except Exception:
                return
            sink.append(frame)

    def on_event(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        if name == "media_offer":
            self.offers.append(data)
            self.tasks.append(asyncio.create_task(self._answer(data)))

    async def _answer(self, offer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        reply = await self.sio.call("media_answer", {"sdp": self.pc.localDescription.sdp})
        assert reply["ok"], reply

    async def publish_media(self) -> dict[str, Any]:
        self.pub.addTransceiver(MovingVideo(), direction="sendonly")
        self.pub.addTransceiver(ToneAudio(), direction="sendonly")
        await self.pub.setLocalDescription(await self.pub.createOffer())
        sections = media_sections(self.pub.localDescription.sdp)
        kinds = {s.mid: "camera" if s.kind == "video" else "microphone" for s in sections}
        reply = await self.sio.call("media_publish", {"sdp": self.pub.localDescription.sdp, "kinds": kinds})
        assert reply["ok"], reply
        await self.pub.setRemoteDescription(RTCSessionDescription(sdp=reply["data"]["sdp"], type="answer"))
        return dict(reply["data"])

    async def wait_frames(self, video: int, audio: int, within_s: float = 20) -> None:
        for _ in range(int(within_s / 0.05)):
            if len(self.frames["video"]) >= video and len(self.frames["audio"]) >= audio:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"decoded { ({k: len(v) for k, v in self.frames.items()}) }")

    async def close(self) -> None:
        await self.pc.close()
        await self.pub.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.sio.close()


async def _join(session: aiohttp.ClientSession, url: str, token: str, space: str) -> Participant:
    participant = Participant(LeanClient(session, lambda n, d: None))
    participant.sio = LeanClient(session, participant.on_event)
    await participant.sio.connect(url, {"token": token})
    assert (await participant.sio.call("join_space", {"space_id": space}))["ok"]
    return participant


async def test_two_participants_in_a_room_receive_each_others_media(platform: Platform) -> None:
    async with aiohttp.ClientSession() as session:
        alice = await _join(session, platform.url, "alice:attendee", "hall")
        bob = await _join(session, platform.url, "bob:attendee", "hall")
        try:
            for who in (alice, bob):
                for kind in ("camera", "microphone"):
                    assert (await who.sio.call("publish", {"kind": kind}))["ok"]
                published = await who.publish_media()
                assert sorted(t["kind"] for t in published["tracks"]) == ["camera", "microphone"]
            await alice.wait_frames(video=10, audio=10)
            await bob.wait_frames(video=10, audio=10)
            offered = [t for offer in bob.offers for t in offer["tracks"]]
            assert {(t["participant_id"], t["kind"]) for t in offered} == {
                ("alice", "camera"),
                ("alice", "microphone"),
            }
            # nothing is decoded in the node: only the two clients' receivers run decoders
            assert platform.node.tracks("hack-1/hall")

            # bob pages alice's camera off his grid: the node stops sending it, then resumes
            camera = next(t["track_id"] for t in offered if t["kind"] == "camera")
            pause = {"track_ids": [camera], "paused": True}
            assert await bob.sio.call("media_pause", pause) == {"ok": True, "data": None}
            assert platform.node.subscriptions("hack-1/hall", "bob")[camera]["paused"] is True
            sent = platform.node.subscriptions("hack-1/hall", "bob")[camera]["packets_sent"]
            await asyncio.sleep(0.5)
            assert platform.node.subscriptions("hack-1/hall", "bob")[camera]["packets_sent"] == sent
            assert (await bob.sio.call("media_pause", {"track_ids": [camera], "paused": False}))["ok"]
            before = len(bob.frames["video"])
            await bob.wait_frames(video=before + 5, audio=0)
            for bad in ({"track_ids": [], "paused": True}, {"track_ids": [camera]}, {"track_ids": camera}):
                assert (await bob.sio.call("media_pause", bad))["error"]["code"] == "invalid_payload"
            unknown = await bob.sio.call("media_pause", {"track_ids": ["nope"], "paused": True})
            assert unknown["error"]["code"] == "not_subscribed"
        finally:
            await alice.close()
            await bob.close()


async def test_media_needs_venue_permission(platform: Platform) -> None:
    async with aiohttp.ClientSession() as session:
        audience = await _join(session, platform.url, "eve:attendee", "stage")
        try:
            assert (await audience.sio.call("publish", {"kind": "camera"}))["error"]["code"] == (
                "publish_not_allowed"
            )
            audience.pub.addTransceiver(MovingVideo(), direction="sendonly")
            await audience.pub.setLocalDescription(await audience.pub.createOffer())
            mid = media_sections(audience.pub.localDescription.sdp)[0].mid
            sdp = audience.pub.localDescription.sdp
            reply = await audience.sio.call("media_publish", {"sdp": sdp, "kinds": {mid: "camera"}})
            assert reply["error"]["code"] == "publish_not_allowed"
            unlabelled = await audience.sio.call("media_publish", {"sdp": sdp, "kinds": {}})
            assert unlabelled["error"]["code"] == "invalid_payload"
            garbage = await audience.sio.call("media_answer", {"sdp": 5})
            assert garbage["error"]["code"] == "invalid_payload"
        finally:
            await audience.close()


async def test_media_before_entering_a_space_is_refused(platform: Platform) -> None:
    async with aiohttp.ClientSession() as session:
        lobby = Participant(LeanClient(session, lambda n, d: None))
        lobby.sio = LeanClient(session, lobby.on_event)
        await lobby.sio.connect(platform.url, {"token": "finn:attendee"})
        reply = await lobby.sio.call("media_publish", {"sdp": "v=0", "kinds": {}})
        assert reply["error"]["code"] == "not_in_space"
        await lobby.close()


def test_media_sections_reads_kind_mid_and_direction() -> None:
    sdp = "\r\n".join(
        [
            "v=0",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "a=mid:0",
            "a=sendonly",
            "m=video 9 UDP/TLS/RTP/SAVPF 96",
            "a=mid:1",
            "a=recvonly",
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "a=mid:2",
        ]
    )
    assert [(s.kind, s.mid, s.sends) for s in media_sections(sdp)] == [
        ("audio", "0", True),
        ("video", "1", False),
        ("application", "2", True),
    ]


async def test_media_resumes_after_a_reconnect(platform: Platform) -> None:
    async with aiohttp.ClientSession() as session:
        alice = await _join(session, platform.url, "alice:attendee", "hall")
        bob = await _join(session, platform.url, "bob:attendee", "hall")
        again: Participant | None = None
        try:
            for who in (alice, bob):
                for kind in ("camera", "microphone"):
                    assert (await who.sio.call("publish", {"kind": kind}))["ok"]
                await who.publish_media()
            await alice.wait_frames(video=10, audio=10)

            # alice's connection drops; she comes back (same token) before her grace period ends
            await alice.sio.drop()
            await alice.pc.close()
            await alice.pub.close()
            again = Participant(LeanClient(session, lambda n, d: None))
            again.sio = LeanClient(session, again.on_event)
            await again.sio.connect(platform.url, {"token": "alice:attendee"})
            for _ in range(100):
                if any(n == "space_snapshot" and d["space_id"] == "hall" for n, d in again.events):
                    break
                await asyncio.sleep(0.05)
            await again.wait_frames(video=10, audio=10)  # bob's media reaches the new connection
            for kind in ("camera", "microphone"):
                reply = await again.sio.call("publish", {"kind": kind})
                assert reply["ok"] or reply["error"]["code"] == "already_published", reply
            await again.publish_media()
            before = len(bob.frames["video"])
            await bob.wait_frames(video=before + 10, audio=0)  # and hers reaches bob again
        finally:
            await bob.close()
            if again is not None:
                await again.close()
            await alice.close()
