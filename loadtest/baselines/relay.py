"""The baseline media server: aiortc's ``MediaRelay``, as a Python user would build one.

One process, two endpoints, loopback only. ``POST /publish {sdp}`` takes a publisher's offer and
answers; its tracks are decoded once by aiortc's receiver. ``POST /subscribe {sdp}`` takes a
subscriber's offer (``recvonly`` transceivers, one per track it wants: video, then audio, for
each publisher in publishing order, skipping ``exclude``'s own) and answers with
``MediaRelay().subscribe(track)`` on each, so every subscriber's sender re-encodes what it gets.

    python -m loadtest.baselines.relay --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from typing import Any

import aioice.ice
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

LOOPBACK = "127.0.0.1"


def loopback_ice() -> None:
    """Gather ICE host candidates on loopback only, in this process (aioice never offers it)."""

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [LOOPBACK] if use_ipv4 else []

    aioice.ice.get_host_addresses = get_host_addresses


def new_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


@dataclass
class Relay:
    relay: MediaRelay = field(default_factory=MediaRelay)
    publishers: list[tuple[str, list[MediaStreamTrack]]] = field(default_factory=list)
    pcs: set[RTCPeerConnection] = field(default_factory=set)

    async def publish(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        pc = new_pc()
        self.pcs.add(pc)
        tracks: list[MediaStreamTrack] = []

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            tracks.append(track)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        tracks.sort(key=lambda t: t.kind != "video")  # video first, then audio
        name = str(body.get("name", f"pub-{len(self.publishers)}"))
        self.publishers.append((name, tracks))
        return web.json_response({"sdp": pc.localDescription.sdp, "tracks": [t.kind for t in tracks]})

    async def subscribe(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        exclude = body.get("exclude")
        wanted = [t for name, tracks in self.publishers if name != exclude for t in tracks]
        pc = new_pc()
        self.pcs.add(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="offer"))
        for track in wanted:  # each fills the subscriber's next free transceiver of its kind
            pc.addTrack(self.relay.subscribe(track))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp, "tracks": [t.kind for t in wanted]})

    async def close(self) -> None:
        await asyncio.gather(*(pc.close() for pc in self.pcs), return_exceptions=True)
        self.pcs.clear()


def app() -> web.Application:
    relay = Relay()
    application = web.Application()
    application.router.add_post("/publish", relay.publish)
    application.router.add_post("/subscribe", relay.subscribe)

    async def close(_app: web.Application) -> None:
        await relay.close()

    application.on_shutdown.append(close)
    return application


async def serve(port: int) -> None:
    runner = web.AppRunner(app())
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(runner.cleanup(), timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.baselines.relay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    loopback_ice()
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
