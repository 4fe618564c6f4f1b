"""Media benchmark: publishers and subscribers through the SFU vs an aiortc ``MediaRelay`` baseline.

Both sides run the same workload, one after the other, in one run: ``--publishers`` aiortc peers
send VP8 video (a synthetic 320x240 picture at 30 frames a second, encoded by aiortc) and, unless
``--no-audio``, an Opus tone; ``--subscribers`` real DTLS-SRTP aiortc peers on loopback receive
every track.

* SFU: by default a ``redis-server``, a ``venuekit sfu --workers 1`` media node and a ``venuekit
  signal``, each its own process on loopback (``loadtest/topology.py``); the SFU figures are the
  media node process's alone, signalling's CPU is reported beside them (``signal_cpu_s``).
  ``--dev-server`` measures one ``venuekit dev`` instead (signalling and media in one process,
  so its CPU is both), ``--compare-dev-server`` measures both, one after the other;
  ``--url`` (with ``--server-pid``, and ``--sfu-url``/``--sfu-pid`` for a separate media node)
  measures a running platform. Every participant joins one room over Socket.IO, publishers
  ``media_publish``, everyone answers the node's ``media_offer`` events. The node forwards
  packets without decoding them. ``sfu_process`` in the summary names what was measured.
* Baseline: ``python -m loadtest.baselines.relay``, a separate process, decodes each published
  track once and re-encodes it for every subscriber (``MediaRelay().subscribe(track)``). It
  collapses beyond about 16 subscribers of one stream on 2 cores (ICE consent expires while it
  re-encodes), so it runs ``--baseline-subscribers`` (default: as many as the SFU side, at most
  8) subscribers of the same stream; its figure is per packet and per CPU-second, which its
  fan-out barely changes (every copy is its own encode).

Subscribers: the first ``--decoding-subscribers`` (default 1) decode everything (proof that the
media is intact); the others count SRTP packets at the socket (``loadtest/media_sink.py``: still
complete ICE and DTLS, still send RTCP; every 64th packet is authenticated and decrypted with
the subscriber's SRTP keys, ``srtp_sample_ok``/``srtp_sample_failed``), because a decoding
subscriber costs the load generator more than forwarding costs the SFU.

Once every receiver has some video and a short warm-up has passed, it measures a fixed window:
packets the receivers got (decoding ones: ``inbound-rtp`` from ``getStats``; counting ones:
their own per-SSRC counts, loss from sequence-number gaps), video frames (decoded, or packets
with the marker bit), and the CPU seconds (user and system) of the media node process alone
(``/proc``). The SFU's forwarding latency comes from its ``/metrics`` histogram (bucket upper
bounds); its own counters (packets sent, retransmissions, NACKs, drops) are reported as rates.
The summary is one JSON line; ``ratio_vs_baseline`` compares packets per server CPU-second and
``frames_ratio_vs_baseline`` video frames delivered per server CPU-second.

    python -m loadtest media                      # 1 publisher, 64 subscribers, 20 s a side
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import random
import signal
import struct
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import aiohttp
import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack

from loadtest import topology
from loadtest.baselines.relay import loopback_ice, new_pc
from loadtest.chat import _server, bucket_percentile_ms
from loadtest.media_sink import SocketCounter
from loadtest.provision import provision
from loadtest.sio import LeanClient, SocketIOError
from loadtest.stats import print_summary, process_cpu_s
from loadtest.topology import Topology

WIDTH, HEIGHT = 320, 240
LATENCY_METRIC = "venuekit_sfu_forwarding_latency_seconds_bucket"
COUNTERS = {
    "venuekit_sfu_sent_packets_total": "server_sent_pps",
    "venuekit_sfu_retransmissions_total": "server_retransmitted_pps",
    "venuekit_sfu_nacks_received_total": "server_nacked_pps",
    "venuekit_sfu_dropped_packets_total": "server_dropped_pps",
    "venuekit_sfu_keyframe_requests_total": "server_keyframe_requests_per_s",
}
"""SFU counters (``sfu/metrics.py``, read over HTTP) reported as rates over the window."""
READY_VIDEO_FRAMES = 5
"""Video frames every receiver must have decoded before the warm-up starts."""


class MovingVideo(VideoStreamTrack):
    """A fixed noisy texture scrolling sideways, so every frame encodes to real motion and detail."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.count = 0
        rng = random.Random(seed)
        self._stride = 2 * WIDTH
        self._texture = rng.randbytes(self._stride * HEIGHT)
        self._chroma = bytes([128]) * (WIDTH * HEIGHT // 4)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        shift = (self.count * 4) % WIDTH
        luma = frame.planes[0]
        if luma.line_size == WIDTH:
            rows = (
                self._texture[y * self._stride + shift : y * self._stride + shift + WIDTH]
                for y in range(HEIGHT)
            )
            luma.update(b"".join(rows))
        else:  # padded lines: a flat picture rather than wrong geometry
            luma.update(bytes([(self.count * 9) % 200 + 20]) * luma.buffer_size)
        for plane in frame.planes[1:]:
            plane.update(self._chroma[: plane.buffer_size])
        frame.pts = pts
        frame.time_base = time_base
        self.count += 1
        return frame


class ToneAudio(AudioStreamTrack):
    """A 400 Hz tone (a whole number of periods in each 20 ms frame, computed once)."""

    def __init__(self) -> None:
        super().__init__()
        self._tone: bytes | None = None

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()  # paces and stamps a silent 20 ms frame
        assert isinstance(frame, av.AudioFrame)
        if self._tone is None:
            n = frame.samples
            self._tone = b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 400 * i / 48000))) for i in range(n)
            ) * (len(frame.layout.channels) if frame.format.is_packed else 1)
        frame.planes[0].update(self._tone[: frame.planes[0].buffer_size])
        return frame


@dataclass
class Counters:
    packets: int = 0
    lost: int = 0
    video_frames: int = 0
    audio_frames: int = 0
    sent: int = 0
    srtp_ok: int = 0
    srtp_failed: int = 0

    def minus(self, other: Counters) -> Counters:
        return Counters(
            *(a - b for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True))
        )


@dataclass
class Peer:
    """One simulated participant: an optional sending connection and a receiving one."""

    name: str
    publishes: bool
    counting: bool = False
    recv: RTCPeerConnection = field(default_factory=new_pc)
    pub: RTCPeerConnection | None = None
    frames: dict[str, int] = field(default_factory=lambda: {"video": 0, "audio": 0})
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    open: bool = True
    counter: SocketCounter | None = None

    def __post_init__(self) -> None:
        if self.counting:
            self.counter = SocketCounter()
            return

        @self.recv.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tasks.append(asyncio.create_task(self._consume(track)))

    @property
    def video_frames(self) -> int:
        """Video frames decoded, or (counting) received: packets with the marker bit."""
        return self.counter.video_frames if self.counter is not None else self.frames["video"]

    def receiving(self) -> None:
        """Both descriptions of the receiving connection are set: a counting peer hooks in now."""
        if self.counter is not None:
            self.counter.install(self.recv)

    async def _consume(self, track: MediaStreamTrack) -> None:
        while self.open:  # until the track ends or close()
            try:
                await track.recv()
            except Exception:
                return
            self.frames[track.kind] = self.frames.get(track.kind, 0) + 1

    async def offer_to_publish(self, audio: bool) -> tuple[str, dict[str, str]]:
        """A complete sendonly offer and the kind (camera/microphone) of each of its mids."""
        self.pub = new_pc()
        video_tx = self.pub.addTransceiver(
            MovingVideo(seed=int(self.name.rpartition("-")[2])), direction="sendonly"
        )
        audio_tx = self.pub.addTransceiver(ToneAudio(), direction="sendonly") if audio else None
        await self.pub.setLocalDescription(await self.pub.createOffer())
        kinds = {str(video_tx.mid): "camera"}
        if audio_tx is not None:
            kinds[str(audio_tx.mid)] = "microphone"
        return self.pub.localDescription.sdp, kinds

    async def counters(self) -> Counters:
        out = Counters(video_frames=self.frames["video"], audio_frames=self.frames["audio"])
        if self.counter is not None:
            c = self.counter
            out = Counters(c.packets, c.lost, c.video_frames, c.audio_packets, 0, c.srtp_ok, c.srtp_failed)
        else:
            for stat in (await self.recv.getStats()).values():
                if stat.type == "inbound-rtp":
                    out.packets += stat.packetsReceived
                    out.lost += max(0, stat.packetsLost)
        if self.pub is not None:
            for stat in (await self.pub.getStats()).values():
                if stat.type == "outbound-rtp":
                    out.sent += stat.packetsSent
        return out

    async def close(self) -> None:
        self.open = False
        for pc in (self.recv, self.pub):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@dataclass
class Plan:
    publishers: int
    subscribers: int
    window_s: float
    warmup_s: float
    audio: bool
    decoding_subscribers: int = 1
    baseline_subscribers: int | None = None  # None: as many as the SFU side
    ready_timeout_s: float = 60.0


def _peers(plan: Plan) -> list[Peer]:
    """Publishers, then subscribers; the first ``decoding_subscribers`` decode, the rest count."""
    return [Peer(f"pub-{i}", True, counting=True) for i in range(plan.publishers)] + [
        Peer(f"sub-{i}", False, counting=i >= plan.decoding_subscribers) for i in range(plan.subscribers)
    ]


def _receiving(plan: Plan, peers: list[Peer]) -> list[Peer]:
    """Who receives: every subscriber, and publishers too when there are others to hear."""
    return [p for p in peers if not p.publishes or plan.publishers > 1]


async def _total(peers: list[Peer]) -> Counters:
    total = Counters()
    for peer in peers:
        c = await peer.counters()
        total = Counters(*(a + b for a, b in zip(total.__dict__.values(), c.__dict__.values(), strict=True)))
    return total


async def _scrape(
    session: aiohttp.ClientSession, url: str | None
) -> tuple[dict[float, float], dict[str, float]]:
    """The SFU's latency histogram buckets and its ``COUNTERS`` so far (``/metrics``, all labels summed)."""
    buckets: dict[float, float] = {}
    counters = dict.fromkeys(COUNTERS, 0.0)
    if url is None:
        return buckets, counters
    try:
        async with session.get(url.rstrip("/") + "/metrics") as resp:
            text = await resp.text()
    except aiohttp.ClientError:
        return buckets, counters
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name == LATENCY_METRIC:
            labels, _, value = line.rpartition(" ")
            bound = labels.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(value)
        elif name in counters:
            counters[name] += float(line.rpartition(" ")[2])
    return buckets, counters


async def _wait_ready(plan: Plan, receivers: list[Peer]) -> bool:
    deadline = time.monotonic() + plan.ready_timeout_s
    while time.monotonic() < deadline:
        if all(p.video_frames >= READY_VIDEO_FRAMES for p in receivers):
            return True
        await asyncio.sleep(0.1)
    return False


async def _measure(
    plan: Plan,
    peers: list[Peer],
    pid: int | None,
    metrics_url: str | None,
    ready: bool,
    *,
    signal_pid: int | None = None,
) -> dict[str, Any]:
    """Warm up, then count over the window: what receivers got, what the server (``pid``) spent,
    and what a separate signalling process (``signal_pid``) spent meanwhile."""
    receivers = _receiving(plan, peers)
    await asyncio.sleep(plan.warmup_s)
    async with aiohttp.ClientSession() as session:
        b0, m0 = await _scrape(session, metrics_url)
        c0 = await _total(peers)
        cpu0 = process_cpu_s(pid) if pid else 0.0
        split0 = _cpu_split(pid)
        wait0 = _runqueue_wait_s(pid)
        signal0 = process_cpu_s(signal_pid) if signal_pid else 0.0
        me0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(plan.window_s)
        cpu1 = process_cpu_s(pid) if pid else 0.0
        split1 = _cpu_split(pid)
        wait1 = _runqueue_wait_s(pid)
        signal1 = process_cpu_s(signal_pid) if signal_pid else 0.0
        me1, t1 = time.process_time(), time.monotonic()
        c1 = await _total(peers)
        b1, m1 = await _scrape(session, metrics_url)
    window = t1 - t0
    got = c1.minus(c0)
    received = await _total(receivers)
    cpu = cpu1 - cpu0 if pid else None
    fanout = plan.subscribers + (plan.publishers - 1 if plan.publishers > 1 else 0)
    return {
        "ready": ready,
        "window_s": round(window, 2),
        "received_packets": got.packets,
        "forwarded_pps": round(got.packets / window, 1),
        "video_fps": round(got.video_frames / window, 1),
        "publisher_sent_pps": round(got.sent / window, 1),
        "expected_pps": round(got.sent * fanout / window, 1),
        "loss_pct": round(100 * got.lost / (got.packets + got.lost), 3) if got.packets + got.lost else 0.0,
        "cpu_s": None if cpu is None else round(cpu, 2),
        "cpu_share": None if cpu is None else round(cpu / window, 3),
        "cpu_user_s": round(split1[0] - split0[0], 2) if pid else None,
        "cpu_system_s": round(split1[1] - split0[1], 2) if pid else None,
        # time the server was ready to run but had no CPU: on a shared machine, latency's cause
        "runqueue_wait_s": round(wait1 - wait0, 2) if pid else None,
        "signal_cpu_s": round(signal1 - signal0, 2) if signal_pid else None,
        "pps_per_cpu_s": round(got.packets / cpu, 1) if cpu else None,
        "frames_per_cpu_s": round(got.video_frames / cpu, 1) if cpu else None,
        "latency_p50_ms": bucket_percentile_ms(b0, b1, 50),
        "latency_p99_ms": bucket_percentile_ms(b0, b1, 99),
        **{
            key: round((m1[name] - m0[name]) / window, 1) if metrics_url else None
            for name, key in COUNTERS.items()
        },
        "loadgen_cpu_share": round((me1 - me0) / window, 3),
        "receivers_without_video": sum(1 for p in receivers if p.video_frames == 0),
        "decoding_receivers": sum(1 for p in receivers if p.counter is None),
        "counting_receivers": sum(1 for p in receivers if p.counter is not None),
        "srtp_sample_ok": got.srtp_ok,
        "srtp_sample_failed": got.srtp_failed,
        "total_received_packets": received.packets,
    }


# --- the SFU side ----------------------------------------------------------------------------


class SfuPeer:
    """A participant over Socket.IO: joins the room, publishes, answers the node's offers in order."""

    def __init__(self, peer: Peer, session: aiohttp.ClientSession, token: str) -> None:
        self.peer = peer
        self.token = token
        self.sio = LeanClient(session, self.on_event)
        self._lock = asyncio.Lock()  # FIFO: offers are answered one at a time, in arrival order

    def on_event(self, name: str, data: Any) -> None:
        if name == "media_offer":
            self.peer.tasks.append(asyncio.create_task(self._answer(data)))

    async def _answer(self, offer: dict[str, Any]) -> None:
        async with self._lock:
            pc = self.peer.recv
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                self.peer.receiving()
                reply = await self.sio.call("media_answer", {"sdp": pc.localDescription.sdp}, timeout_s=30)
                if not reply["ok"]:
                    self.peer.errors.append(f"media_answer: {reply['error']}")
            except Exception as exc:
                self.peer.errors.append(f"media_answer: {exc!r}")

    async def join(self, url: str, space_id: str) -> None:
        await self.sio.connect(url, {"token": self.token}, timeout_s=30)
        reply = await self.sio.call("join_space", {"space_id": space_id}, timeout_s=30)
        if not reply["ok"]:
            raise SocketIOError(f"join_space refused: {reply['error']}")

    async def publish(self, audio: bool) -> None:
        for kind in ("camera", "microphone") if audio else ("camera",):
            reply = await self.sio.call("publish", {"kind": kind}, timeout_s=30)
            if not reply["ok"]:
                raise SocketIOError(f"publish {kind} refused: {reply['error']}")
        sdp, kinds = await self.peer.offer_to_publish(audio)
        reply = await self.sio.call("media_publish", {"sdp": sdp, "kinds": kinds}, timeout_s=30)
        if not reply["ok"]:
            raise SocketIOError(f"media_publish refused: {reply['error']}")
        assert self.peer.pub is not None
        await self.peer.pub.setRemoteDescription(
            RTCSessionDescription(sdp=reply["data"]["sdp"], type="answer")
        )


def _cpu_split(pid: int | None) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid`` so far (Linux ``/proc``); the kernel's share is
    mostly the UDP sends (on loopback, a send also delivers to the receiving socket)."""
    if not pid:
        return 0.0, 0.0
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def _runqueue_wait_s(pid: int | None) -> float:
    """Seconds ``pid`` has spent runnable but waiting for a CPU (``/proc/PID/schedstat``)."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/schedstat") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


async def _idle_cpu_share(pid: int | None, seconds: float) -> float | None:
    """The measured server's CPU share before any media: what it spends anyway (heartbeats,
    timers; with ``venuekit dev`` also signalling's)."""
    if not pid:
        return None
    before = process_cpu_s(pid)
    await asyncio.sleep(seconds)
    return round((process_cpu_s(pid) - before) / seconds, 3)


async def run_sfu(measured: Topology, plan: Plan) -> dict[str, Any]:
    url, pid = measured.url, measured.sfu_pid
    venue = await provision(
        url,
        ["Host"],
        [{"name": "Hall", "kind": "room", "capacity": plan.publishers + plan.subscribers + 10}],
        attendees=plan.publishers + plan.subscribers,
    )
    space_id = venue.spaces["Hall"]
    idle = await _idle_cpu_share(pid, min(2.0, plan.window_s))
    peers = _peers(plan)
    async with aiohttp.ClientSession() as session:
        clients = [SfuPeer(p, session, t) for p, t in zip(peers, venue.attendees, strict=True)]
        try:
            # subscribers first, then publishers: each subscriber is offered the tracks as they come
            order = [c for c in clients if not c.peer.publishes] + [c for c in clients if c.peer.publishes]
            await asyncio.gather(*(c.join(url, space_id) for c in order))
            for client in order:
                if client.peer.publishes:
                    await client.publish(plan.audio)
            ready = await _wait_ready(plan, _receiving(plan, peers))
            result = await _measure(
                plan, peers, pid, measured.sfu_metrics_url, ready, signal_pid=measured.signal_pid
            )
        finally:
            await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.sio.close()
    result["idle_cpu_share"] = idle
    result["sfu_process"] = measured.name
    result["errors"] = [e for p in peers for e in p.errors][:5]
    return result


# --- the baseline side -----------------------------------------------------------------------


def _relay() -> Any:
    """The baseline relay process on a free loopback port: yields (url, pid)."""
    return _server(
        [sys.executable, "-m", "loadtest.baselines.relay", "--port", "{port}"], "the baseline relay"
    )


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, json=body) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{url}: {resp.status} {await resp.text()}")
        data: dict[str, Any] = await resp.json()
        return data


async def run_baseline(url: str, pid: int, plan: Plan) -> dict[str, Any]:
    if plan.baseline_subscribers is not None:
        plan = dataclasses.replace(plan, subscribers=plan.baseline_subscribers)
    peers = _peers(plan)
    try:
        async with aiohttp.ClientSession() as session:
            for peer in peers:
                if peer.publishes:
                    sdp, _kinds = await peer.offer_to_publish(plan.audio)
                    answer = await _post(session, url + "/publish", {"sdp": sdp, "name": peer.name})
                    assert peer.pub is not None
                    await peer.pub.setRemoteDescription(
                        RTCSessionDescription(sdp=answer["sdp"], type="answer")
                    )
            for peer in _receiving(plan, peers):
                others = plan.publishers - (1 if peer.publishes else 0)
                for _ in range(others):
                    peer.recv.addTransceiver("video", direction="recvonly")
                    if plan.audio:
                        peer.recv.addTransceiver("audio", direction="recvonly")
                await peer.recv.setLocalDescription(await peer.recv.createOffer())
                body = {"sdp": peer.recv.localDescription.sdp, "exclude": peer.name}
                answer = await _post(session, url + "/subscribe", body)
                await peer.recv.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
                peer.receiving()
        ready = await _wait_ready(plan, _receiving(plan, peers))
        result = await _measure(plan, peers, pid, None, ready)
    finally:
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
    return result


# --- the run ---------------------------------------------------------------------------------


def _topologies(args: argparse.Namespace) -> list[Callable[[], contextlib.AbstractContextManager[Topology]]]:
    """The SFU sides to measure, in order: the first one's figures are the summary's."""
    if args.url is not None:
        return [lambda: topology.external(args.url, args.server_pid, args.sfu_url, args.sfu_pid)]
    if args.dev_server:
        return [topology.dev]
    return [topology.split, topology.dev] if args.compare_dev_server else [topology.split]


def _key_figures(side: dict[str, Any]) -> dict[str, Any]:
    keys = (
        *("sfu_process", "forwarded_pps", "cpu_s", "signal_cpu_s", "pps_per_cpu_s", "runqueue_wait_s"),
        *("latency_p50_ms", "latency_p99_ms", "loss_pct", "ready"),
    )
    return {key: side[key] for key in keys}


LEFTOVER_TASKS_TIMEOUT_S = 5.0


def _run_bounded(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """``asyncio.run`` whose clean-up cannot hang: tasks left when ``coro`` returns (aiortc and
    aioice leave some) are cancelled and given a few seconds; any that ignore the cancellation
    are named on stderr and abandoned with their loop (``asyncio.run`` waits for them forever:
    a smoke run once hung there for 50 minutes)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            _, stuck = loop.run_until_complete(asyncio.wait(pending, timeout=LEFTOVER_TASKS_TIMEOUT_S))
            for task in stuck:
                print(
                    f"warning: task {task.get_name()} ignored its cancellation: {task!r}"[:300],
                    file=sys.stderr,
                )
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def run(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    loopback_ice()
    started = time.monotonic()
    sides: list[dict[str, Any]] = []
    for start in _topologies(args):
        with start() as measured:
            sides.append(_run_bounded(run_sfu(measured, plan)))
    sfu = sides[0]
    baseline: dict[str, Any] = {}
    if not args.skip_baseline:
        with _relay() as (relay_url, relay_pid):
            baseline = _run_bounded(run_baseline(relay_url, relay_pid, plan))
    for name, side in (("sfu", sfu), *(("dev server", s) for s in sides[1:]), ("baseline", baseline)):
        if side and (side["loadgen_cpu_share"] > 0.9 or not side["ready"]):
            print(
                f"warning: {name} side: load generator CPU share {side['loadgen_cpu_share']}, ready="
                f"{side['ready']}; loss and rates may be the load generator's, not the server's",
                file=sys.stderr,
            )
    sfu_eff = sfu["pps_per_cpu_s"]
    base_eff = baseline.get("pps_per_cpu_s")
    return {
        "scenario": "media",
        "publishers": plan.publishers,
        "subscribers": plan.subscribers,
        "video": f"VP8 {WIDTH}x{HEIGHT} 30 fps (aiortc encoder)",
        "audio": "Opus 48 kHz tone" if plan.audio else None,
        "window_s": plan.window_s,
        "cpus": os.cpu_count(),
        "sfu_process": sfu["sfu_process"],
        "forwarded_pps": sfu["forwarded_pps"],
        "sfu_cpu_s": sfu["cpu_s"],
        "signal_cpu_s": sfu["signal_cpu_s"],
        "sfu_cpu_system_s": sfu["cpu_system_s"],
        "sfu_runqueue_wait_s": sfu["runqueue_wait_s"],
        "pps_per_sfu_cpu_s": sfu_eff,
        "frames_per_sfu_cpu_s": sfu["frames_per_cpu_s"],
        "baseline_subscribers": plan.subscribers
        if plan.baseline_subscribers is None
        else plan.baseline_subscribers,
        "baseline_forwarded_pps": baseline.get("forwarded_pps"),
        "baseline_cpu_s": baseline.get("cpu_s"),
        "baseline_pps_per_cpu_s": base_eff,
        "baseline_frames_per_cpu_s": baseline.get("frames_per_cpu_s"),
        "ratio_vs_baseline": round(sfu_eff / base_eff, 2) if sfu_eff and base_eff else None,
        "frames_ratio_vs_baseline": (
            round(sfu["frames_per_cpu_s"] / baseline["frames_per_cpu_s"], 2)
            if sfu["frames_per_cpu_s"] and baseline.get("frames_per_cpu_s")
            else None
        ),
        "sfu_idle_cpu_share": sfu["idle_cpu_share"],
        "sfu_latency_p50_ms": sfu["latency_p50_ms"],
        "sfu_latency_p99_ms": sfu["latency_p99_ms"],
        "loss_pct": sfu["loss_pct"],
        "baseline_loss_pct": baseline.get("loss_pct"),
        "loadgen_cpu_share": sfu["loadgen_cpu_share"],
        "baseline_loadgen_cpu_share": baseline.get("loadgen_cpu_share"),
        "decoding_subscribers": sfu["decoding_receivers"],
        "counting_subscribers": sfu["counting_receivers"],
        "srtp_sample_ok": sfu["srtp_sample_ok"] + baseline.get("srtp_sample_ok", 0),
        "srtp_sample_failed": sfu["srtp_sample_failed"] + baseline.get("srtp_sample_failed", 0),
        "sfu_received_packets": sfu["received_packets"],
        "baseline_received_packets": baseline.get("received_packets"),
        "sfu": sfu,
        "baseline": baseline,
        "dev_server": _key_figures(sides[1]) if len(sides) > 1 else None,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def _terminate(_sig: int, _frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so the processes this run started are stopped."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest media", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url",
        help="a running platform's signalling (default: start redis-server, venuekit sfu --workers 1 "
        "and venuekit signal on loopback)",
    )
    parser.add_argument(
        "--server-pid",
        type=int,
        help="pid of the --url server, for its CPU (with --sfu-url or --sfu-pid: signalling's CPU, "
        "reported as signal_cpu_s)",
    )
    parser.add_argument("--sfu-url", help="with --url: the media node whose /metrics to scrape")
    parser.add_argument("--sfu-pid", type=int, help="with --url: pid of the media node process, for its CPU")
    parser.add_argument(
        "--dev-server",
        action="store_true",
        help="measure one venuekit dev (signalling and media node in one process) instead",
    )
    parser.add_argument(
        "--compare-dev-server",
        action="store_true",
        help="measure the separate processes, then venuekit dev too (dev_server in the summary)",
    )
    parser.add_argument("--publishers", type=int, default=1)
    parser.add_argument("--subscribers", type=int, default=64)
    parser.add_argument("--window-s", type=float, default=20.0, help="measured seconds, each side")
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--no-audio", action="store_true", help="video only")
    parser.add_argument(
        "--decoding-subscribers",
        type=int,
        default=1,
        help="subscribers that decode everything (the others count packets at the socket)",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="measure the SFU only")
    parser.add_argument(
        "--baseline-subscribers",
        type=int,
        help="subscribers on the baseline side (default: as on the SFU side, at most 8); MediaRelay "
        "re-encodes per subscriber and collapses beyond about 16 on 2 cores",
    )
    parser.add_argument("--quick", action="store_true", help="1 publisher, 8 subscribers, 10 s a side")
    parser.add_argument("--smoke", action="store_true", help="1 publisher, 2 subscribers, 5 s a side (tests)")
    args = parser.parse_args(argv)
    if args.url is None and (args.server_pid or args.sfu_url or args.sfu_pid):
        parser.error("--server-pid, --sfu-url and --sfu-pid need --url")
    if args.url is not None and (args.dev_server or args.compare_dev_server):
        parser.error("--dev-server and --compare-dev-server start their own platform: not with --url")
    if args.dev_server and args.compare_dev_server:
        parser.error("--dev-server and --compare-dev-server are exclusive")
    if args.quick:
        args.publishers, args.subscribers, args.window_s, args.warmup_s = 1, 8, 10.0, 2.0
    if args.smoke:
        args.publishers, args.subscribers, args.window_s, args.warmup_s = 1, 2, 5.0, 1.0
    plan = Plan(
        publishers=args.publishers,
        subscribers=args.subscribers,
        window_s=args.window_s,
        warmup_s=args.warmup_s,
        audio=not args.no_audio,
        decoding_subscribers=max(0, args.decoding_subscribers),
        baseline_subscribers=(
            min(args.subscribers, 8) if args.baseline_subscribers is None else args.baseline_subscribers
        ),
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        summary = run(args, plan)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_summary(summary)
    ok = summary["sfu_received_packets"] > 0 and (
        args.skip_baseline or (summary["baseline_received_packets"] or 0) > 0
    )
    return 0 if ok else 1
