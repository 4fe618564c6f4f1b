"""Sharding spaces across real media node processes: two `signal`, two `sfu` and a real Redis.

Participants connected to different signalling instances share a space whose media runs on a
remote `venuekit sfu` node; that node is SIGKILLed and the space moves to the other node, where
the participants get media again without doing anything but following `media_reset`; then a
signalling instance is SIGKILLed and its participant comes back through the other one as the
same participant and receives media again.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
import redis.asyncio as aioredis
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from loadtest.provision import provision
from loadtest.sio import LeanClient
from signalling.media_bridge import media_sections
from signalling.placement import PLACEMENT_KEY
from tests.sfu.peers import MovingVideo, ToneAudio, new_pc
from tests.support.processes import Role
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

ENV = {
    "VENUEKIT_SECRET_KEY": "sharding-" + "k" * 40,
    "VENUEKIT_NODE_SECRET": "sharding-node-" + "n" * 40,
    "VENUEKIT_LOG_LEVEL": "WARNING",
}


@dataclass
class Cluster:
    signals: list[Role]
    sfus: list[Role]
    redis_url: str


@pytest.fixture
def cluster(tmp_path: Path, redis_server: RedisServer) -> Iterator[Cluster]:
    asyncio.run(_flush(redis_server.url))  # no media nodes left registered by earlier tests
    env = {**ENV, "REDIS_URL": redis_server.url}
    sfus = [Role("sfu", tmp_path / f"sfu-{i}", env, extra_args=["--workers", "1"]) for i in range(2)]
    signals = [Role("signal", tmp_path / f"signal-{i}", env) for i in range(2)]
    try:
        for role in (*sfus, *signals):
            role.wait_ready()
        yield Cluster(signals, sfus, redis_server.url)
    finally:
        for role in (*signals, *sfus):
            role.stop()


@dataclass
class Participant:
    """A browser-like client: a socket, a receiving and a publishing aiortc peer connection."""

    name: str
    session: aiohttp.ClientSession
    events: list[tuple[str, Any]] = field(default_factory=list)
    frames: dict[str, int] = field(default_factory=lambda: {"video": 0, "audio": 0})
    resets: int = 0
    publishing: bool = False

    def __post_init__(self) -> None:
        self.sio = LeanClient(self.session, self.on_event)
        self.order = asyncio.Lock()  # FIFO: offers and resets are handled in arrival order
        self.tasks: list[asyncio.Task[None]] = []
        self.pcs: list[RTCPeerConnection] = []
        self.sub = self._new_sub()
        self.pub: RTCPeerConnection | None = None

    def _new_sub(self) -> RTCPeerConnection:
        pc = new_pc()
        self.pcs.append(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tasks.append(asyncio.create_task(self._consume(track)))

        return pc

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame: av.VideoFrame | av.AudioFrame = await track.recv()
            except Exception:
                return
            del frame
            self.frames[track.kind] += 1

    def on_event(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        if name == "media_offer":
            self.tasks.append(asyncio.create_task(self._in_order(self._answer(data))))
        elif name == "media_reset":
            self.tasks.append(asyncio.create_task(self._in_order(self._reset())))

    async def _in_order(self, work: Any) -> None:
        async with self.order:
            await work

    async def _answer(self, offer: dict[str, Any]) -> None:
        await self.sub.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.sub.setLocalDescription(await self.sub.createAnswer())
        reply = await self.sio.call("media_answer", {"sdp": self.sub.localDescription.sdp})
        assert reply["ok"], reply

    async def _reset(self) -> None:
        """What web/static/js/media.js does on `media_reset`: new connections, publish again."""
        self.resets += 1
        await self.sub.close()
        if self.pub is not None:
            await self.pub.close()
            self.pub = None
        self.sub = self._new_sub()
        if self.publishing:
            await self.publish()

    async def connect(self, url: str, token: str) -> dict[str, Any]:
        await self.sio.connect(url, {"token": token})
        await until(lambda: any(n == "welcome" for n, _ in self.events))
        return next(d for n, d in self.events if n == "welcome")

    async def publish(self) -> None:
        self.publishing = True
        self.pub = pub = new_pc()
        self.pcs.append(pub)
        pub.addTransceiver(MovingVideo(), direction="sendonly")
        pub.addTransceiver(ToneAudio(), direction="sendonly")
        await pub.setLocalDescription(await pub.createOffer())
        sdp = pub.localDescription.sdp
        kinds = {s.mid: "camera" if s.kind == "video" else "microphone" for s in media_sections(sdp)}
        reply = await self.sio.call("media_publish", {"sdp": sdp, "kinds": kinds})
        assert reply["ok"], reply
        await pub.setRemoteDescription(RTCSessionDescription(sdp=reply["data"]["sdp"], type="answer"))

    async def wait_media(self, more_than: dict[str, int], within_s: float) -> None:
        target = {k: v + 10 for k, v in more_than.items()}
        await until(
            lambda: all(self.frames[k] >= v for k, v in target.items()),
            within_s,
            f"{self.name} decoded {self.frames}, wanted {target}",
        )

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.sio.close()


async def until(predicate: Any, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.05)


async def _flush(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    await client.flushall()
    await client.aclose()


async def _node_of(redis_url: str, space: str) -> str:
    client = aioredis.Redis.from_url(redis_url)
    try:
        raw = await client.hget(PLACEMENT_KEY, space)
    finally:
        await client.aclose()
    assert raw is not None, f"space {space} was never placed"
    return raw.decode()


async def test_media_across_instances_survives_a_dead_node_and_a_dead_instance(cluster: Cluster) -> None:
    a, b = cluster.signals
    venue = await provision(a.base_url, ["Ada", "Ben"], [{"name": "Hall", "kind": "room", "capacity": 10}])
    hall = venue.spaces["Hall"]
    async with aiohttp.ClientSession() as session:
        ada, ben = Participant("ada", session), Participant("ben", session)
        ada2: Participant | None = None
        try:
            ada_id = (await ada.connect(a.base_url, venue.tokens["Ada"]))["participant_id"]
            await ben.connect(b.base_url, venue.tokens["Ben"])
            for who in (ada, ben):
                assert (await who.sio.call("join_space", {"space_id": hall}))["ok"]
                for kind in ("camera", "microphone"):
                    assert (await who.sio.call("publish", {"kind": kind}))["ok"]
                await who.publish()
            # Ada is on signal A, Ben on signal B: each decodes the other's video and audio
            await ada.wait_media({"video": 0, "audio": 0}, 20)
            await ben.wait_media({"video": 0, "audio": 0}, 20)

            # the node hosting the hall dies without a goodbye
            node_id = await _node_of(cluster.redis_url, f"{venue.event_id}/{hall}")
            doomed = next(s for s in cluster.sfus if f"-{s.proc.pid}-" in node_id)
            survivor = next(s for s in cluster.sfus if s is not doomed)
            before = {"ada": dict(ada.frames), "ben": dict(ben.frames)}
            killed_at = time.monotonic()
            doomed.stop(signal.SIGKILL)
            await ada.wait_media(before["ada"], 10)
            await ben.wait_media(before["ben"], 10)
            recovered_s = time.monotonic() - killed_at
            assert ada.resets >= 1 and ben.resets >= 1
            moved_to = await _node_of(cluster.redis_url, f"{venue.event_id}/{hall}")
            assert f"-{survivor.proc.pid}-" in moved_to
            print(f"media back {recovered_s:.1f}s after the node was killed")

            # signal A dies; Ada comes back through B as the same participant, and media resumes
            a.stop(signal.SIGKILL)
            await ada.close()
            ada2 = Participant("ada2", session)
            welcome = await ada2.connect(b.base_url, venue.tokens["Ada"])
            assert welcome["participant_id"] == ada_id and welcome["resumed"] is True
            assert welcome["space_id"] == hall
            await ada2.wait_media({"video": 0, "audio": 0}, 15)  # Ben's media on the new connection
        finally:
            for who in (ada, ben, *([ada2] if ada2 else [])):
                await who.close()


async def test_participants_who_joined_before_any_node_get_media_once_one_starts(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    await _flush(redis_server.url)
    env = {**ENV, "REDIS_URL": redis_server.url}
    signal_role = Role("signal", tmp_path / "signal", env)
    sfu: Role | None = None
    try:
        signal_role.wait_ready()
        venue = await provision(
            signal_role.base_url, ["Ada", "Ben"], [{"name": "Hall", "kind": "room", "capacity": 9}]
        )
        hall = venue.spaces["Hall"]
        async with aiohttp.ClientSession() as session:
            ada, ben = Participant("ada", session), Participant("ben", session)
            try:
                for who, name in ((ada, "Ada"), (ben, "Ben")):
                    await who.connect(signal_role.base_url, venue.tokens[name])
                    assert (await who.sio.call("join_space", {"space_id": hall}))["ok"]
                    for kind in ("camera", "microphone"):
                        assert (await who.sio.call("publish", {"kind": kind}))["ok"]
                    who.publishing = True  # the browser wants to send; no media node is up to take it
                sfu = Role("sfu", tmp_path / "sfu", env, extra_args=["--workers", "1"])
                sfu.wait_ready()
                # no clicks: the bridge retries, tells both to reset, and they publish on the new node
                await ada.wait_media({"video": 0, "audio": 0}, 20)
                await ben.wait_media({"video": 0, "audio": 0}, 20)
                assert ada.resets >= 1 and ben.resets >= 1
            finally:
                await ada.close()
                await ben.close()
    finally:
        signal_role.stop()
        if sfu is not None:
            sfu.stop()
