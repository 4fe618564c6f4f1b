"""Join benchmark: how fast participants get from a join token to media playing.

It starts ``venuekit dev`` on loopback (or targets ``--url``), provisions an event with one room
and N attendee tokens through the API, and has one organiser publish a synthetic VP8 video into
the room. Then N participants arrive, ``--concurrency`` at a time. For each it times, end to
end: the socket connects (the token is verified), ``join_space`` is applied, the node's
``media_offer`` arrives and is answered (a real DTLS-SRTP aiortc peer), and the first frame of
the publisher's video is decoded. The summary is one JSON line.

    python -m loadtest joins --joins 60 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCSessionDescription,
)

from loadtest.baselines.relay import loopback_ice, new_pc
from loadtest.chat import _platform, raise_open_file_limit
from loadtest.media import MovingVideo
from loadtest.provision import provision
from loadtest.sio import LeanClient
from loadtest.stats import percentile, print_summary, process_cpu_s


@dataclass
class Joiner:
    """One arriving participant: a socket and a receiving peer connection."""

    session: aiohttp.ClientSession
    token: str
    pc: RTCPeerConnection = field(default_factory=new_pc)
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)
    offered: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    phases_ms: dict[str, float] = field(default_factory=dict)
    sio: LeanClient | None = None

    def on_event(self, name: str, data: Any) -> None:
        if name == "media_offer":
            self.offered.set()
            self.tasks.append(asyncio.create_task(self._answer(data)))

    async def _answer(self, offer: dict[str, Any]) -> None:
        assert self.sio is not None
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.sio.call("media_answer", {"sdp": self.pc.localDescription.sdp})

    async def _watch(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            await track.recv()
            self.first_frame.set()

    async def run(self, url: str, space_id: str, timeout_s: float) -> None:
        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self.tasks.append(asyncio.create_task(self._watch(track)))

        t0 = time.monotonic()
        self.sio = LeanClient(self.session, self.on_event, compress=0)
        await self.sio.connect(url, {"token": self.token}, timeout_s=timeout_s)
        t1 = time.monotonic()
        reply = await self.sio.call("join_space", {"space_id": space_id}, timeout_s=timeout_s)
        if not reply["ok"]:
            raise RuntimeError(f"join_space refused: {reply['error']}")
        t2 = time.monotonic()
        await asyncio.wait_for(self.offered.wait(), timeout_s)
        t3 = time.monotonic()
        await asyncio.wait_for(self.first_frame.wait(), timeout_s)
        t4 = time.monotonic()
        self.phases_ms = {
            "connect": (t1 - t0) * 1000,
            "join": (t2 - t1) * 1000,
            "offer": (t3 - t2) * 1000,
            "first_frame": (t4 - t3) * 1000,
            "total": (t4 - t0) * 1000,
        }

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.pc.close()
        if self.sio is not None:
            await self.sio.close()


async def _publish(
    session: aiohttp.ClientSession, url: str, token: str, space_id: str
) -> tuple[LeanClient, RTCPeerConnection]:
    sio = LeanClient(session, lambda *_: None, compress=0)
    await sio.connect(url, {"token": token})
    for name, payload in (("join_space", {"space_id": space_id}), ("publish", {"kind": "camera"})):
        reply = await sio.call(name, payload)
        if not reply["ok"]:
            raise RuntimeError(f"{name} refused: {reply['error']}")
    pc = new_pc()
    transceiver = pc.addTransceiver(MovingVideo(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    kinds = {transceiver.mid: "camera"}
    reply = await sio.call("media_publish", {"sdp": pc.localDescription.sdp, "kinds": kinds})
    if not reply["ok"]:
        raise RuntimeError(f"media_publish refused: {reply['error']}")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["data"]["sdp"], type="answer"))
    return sio, pc


async def run(url: str, pid: int | None, *, joins: int, concurrency: int, timeout_s: float) -> dict[str, Any]:
    loopback_ice()
    venue = await provision(
        url,
        ["Host"],
        [{"name": "Hall", "kind": "room", "capacity": joins + 10}],
        attendees=joins,
        concurrency=64,
    )
    hall = venue.spaces["Hall"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        host, publisher = await _publish(session, url, venue.tokens["Host"], hall)
        gate = asyncio.Semaphore(concurrency)
        joiners = [Joiner(session, token) for token in venue.attendees]
        failures: list[str] = []

        async def arrive(joiner: Joiner) -> None:
            async with gate:
                try:
                    await joiner.run(url, hall, timeout_s)
                except Exception as exc:  # every failure is counted and reported
                    failures.append(f"{type(exc).__name__}: {exc}")

        cpu0 = process_cpu_s(pid) if pid else 0.0
        started = time.monotonic()
        await asyncio.gather(*(arrive(j) for j in joiners))
        elapsed_s = time.monotonic() - started
        cpu_s = (process_cpu_s(pid) - cpu0) if pid else None
        for joiner in joiners:
            await joiner.close()
        await publisher.close()
        await host.close()
    done = [j.phases_ms for j in joiners if j.phases_ms]
    totals = [p["total"] for p in done]
    summary: dict[str, Any] = {
        "scenario": "joins",
        "joins": joins,
        "concurrency": concurrency,
        "joins_per_s": round(len(done) / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        "join_p50_ms": round(percentile(totals, 50), 1),
        "join_p99_ms": round(percentile(totals, 99), 1),
        "failed": len(failures),
        "server_cpu_s": None if cpu_s is None else round(cpu_s, 2),
        "server_cpu_ms_per_join": None if cpu_s is None or not done else round(cpu_s * 1000 / len(done), 1),
    }
    for phase in ("connect", "join", "offer", "first_frame"):
        summary[f"phase_{phase}_p50_ms"] = round(percentile([p[phase] for p in done], 50), 1)
    if failures:
        summary["first_failure"] = failures[0][:300]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest joins", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running platform (default: start venuekit dev on loopback)")
    parser.add_argument("--server-pid", type=int, help="pid of the --url server, for its CPU")
    parser.add_argument("--joins", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="30 joins")
    parser.add_argument("--smoke", action="store_true", help="3 joins (tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.joins = 30
    if args.smoke:
        args.joins, args.concurrency = 3, 3
    raise_open_file_limit()
    with _platform(args.url, args.server_pid) as (url, pid):
        summary = asyncio.run(
            run(url, pid, joins=args.joins, concurrency=args.concurrency, timeout_s=args.timeout_s)
        )
    print_summary(summary)
    return 0 if summary["failed"] == 0 else 1
