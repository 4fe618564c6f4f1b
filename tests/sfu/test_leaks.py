"""Thousands of joins and leaves through the node API leave nothing behind.

No timing: after the churn, the counts of asyncio tasks, open file descriptors, live aiortc
objects and the SFU's own objects (up/down-tracks), the node's gauges and its forwarding tables
are back where they were after a warm-up.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aioice.ice import Connection, StunProtocol
from aiortc import RTCDtlsTransport, RTCIceTransport, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from prometheus_client import REGISTRY

from sfu import aiortc_glue
from sfu.forwarder import DownTrack, UpTrack
from sfu.node import SfuNode
from tests.sfu.peers import publish, subscribe
from tests.sfu.test_node import make_offer

pytestmark = pytest.mark.slow

TRACKED = (
    RTCPeerConnection,
    RTCDtlsTransport,
    RTCIceTransport,
    RTCRtpSender,
    RTCRtpReceiver,
    Connection,
    StunProtocol,
    UpTrack,
    DownTrack,
)
GAUGES = (
    ("venuekit_sfu_peers", {"direction": "publish"}),
    ("venuekit_sfu_peers", {"direction": "subscribe"}),
    ("venuekit_sfu_tracks", {"kind": "video"}),
    ("venuekit_sfu_tracks", {"kind": "audio"}),
    ("venuekit_sfu_subscriptions", {}),
)


@pytest.fixture
async def node() -> AsyncIterator[SfuNode]:
    n = SfuNode(ice_host_addresses=("127.0.0.1",))
    await n.create_space("room")
    yield n
    await n.close()
    aiortc_glue.set_ice_host_addresses(None)


async def settle(long_lived: int) -> None:
    """Let the loop finish what closing connections scheduled (aiortc's ``__connect`` tasks end a
    few turns after ``close()``): wait until at most ``long_lived`` tasks remain, or give up after
    a bounded number of turns and let the comparison show what stayed."""
    for _ in range(500):
        if len(asyncio.all_tasks()) <= long_lived:
            return
        await asyncio.sleep(0.01)


async def snapshot(long_lived: int = 3) -> dict[str, int]:
    """Counts after settling; ``long_lived``: the test's own task and the space's speaker and
    RTCP tasks."""
    await settle(long_lived)
    gc.collect()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        if isinstance(obj, TRACKED):
            counts[type(obj).__name__] += 1
    counts["asyncio_tasks"] = len(asyncio.all_tasks())
    counts["open_fds"] = len(os.listdir("/proc/self/fd"))
    for name, labels in GAUGES:
        counts[f"{name}{sorted(labels.items())}"] = int(REGISTRY.get_sample_value(name, labels) or 0)
    return dict(counts)


async def churn(node: SfuNode, offer: str, i: int) -> None:
    """A publisher and a subscriber join, publish, subscribe, get an offer, and leave."""
    pub, sub = f"p{i}", f"s{i}"
    await node.add_participant("room", pub)
    answer = await node.publish("room", pub, offer)
    await node.add_participant("room", sub)
    for track in answer.tracks:
        await node.subscribe("room", sub, track.track_id)
    await node.subscriber_offer("room", sub)
    if i % 2:
        await node.unsubscribe("room", sub, answer.tracks[0].track_id)
    await node.remove_participant("room", sub)
    await node.remove_participant("room", pub)


async def test_thousands_of_joins_and_leaves_leak_nothing(node: SfuNode) -> None:
    offer = await make_offer()
    for i in range(20):  # warm-up: caches, lazily created metric children
        await churn(node, offer, i)
    before = await snapshot()
    for i in range(20, 1020):  # 1,000 rounds: 2,000 joins and leaves
        await churn(node, offer, i)
    after = await snapshot()
    assert after == before
    assert node.participants("room") == []
    assert node.tracks("room") == []


async def test_connected_peers_that_leave_leak_nothing(node: SfuNode) -> None:
    """With media flowing: DTLS, ICE, RTCP tasks and the forwarding path all torn down."""

    async def round_trip(i: int) -> None:
        await node.add_participant("room", f"pub{i}")
        await node.add_participant("room", f"sub{i}")
        publisher = await publish(node, "room", f"pub{i}")
        subscriber = await subscribe(node, "room", f"sub{i}", publisher.track_ids.values())
        try:
            await subscriber.wait_for(video=3, audio=3, within_s=30)
        finally:
            await node.remove_participant("room", f"sub{i}")
            await node.remove_participant("room", f"pub{i}")
            await subscriber.close()
            await publisher.pc.close()

    await round_trip(0)  # warm-up
    before = await snapshot()
    for i in range(1, 4):
        await round_trip(i)
    after = await snapshot()
    assert after == before
