"""End to end on loopback: aiortc publisher -> SfuNode -> aiortc subscribers that decode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from sfu import aiortc_glue
from sfu.fastpath import NATIVE
from sfu.node import SfuEvent, SfuNode
from tests.sfu.peers import HEIGHT, WIDTH, decoder_threads, publish, subscribe

pytestmark = pytest.mark.slow


@pytest.fixture
async def node() -> AsyncIterator[SfuNode]:
    events: list[SfuEvent] = []
    n = SfuNode(ice_host_addresses=("127.0.0.1",), on_event=events.append)
    n.events = events  # type: ignore[attr-defined]
    yield n
    await n.close()
    aiortc_glue.set_ice_host_addresses(None)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_one_publisher_three_subscribers_all_decode(node: SfuNode) -> None:
    await node.create_space("room")
    for who in ("alice", "bob", "carol", "dave"):
        await node.add_participant("room", who)
    sent_before = metric("venuekit_sfu_sent_packets_total", kind="video")
    pub = await publish(node, "room", "alice")
    assert set(pub.track_ids) == {"video", "audio"}
    subs = [await subscribe(node, "room", who, pub.track_ids.values()) for who in ("bob", "carol", "dave")]
    try:
        for sub in subs:
            await sub.wait_for(video=15, audio=25)
            frame = sub.frames["video"][-1]
            assert (frame.width, frame.height) == (WIDTH, HEIGHT)
        # only the subscribers decode: two decoder threads each, none in the SFU
        assert decoder_threads() == 2 * len(subs)
        for who in ("bob", "carol", "dave"):
            assert all(info["ready"] for info in node.subscriptions("room", who).values())
            # in their steady state the copies are sent by the C fan-out, when it is built
            assert all(info["native"] is NATIVE for info in node.subscriptions("room", who).values())
        assert metric("venuekit_sfu_sent_packets_total", kind="video") > sent_before
        await asyncio.sleep(1.6)  # a round of RTCP both ways
        assert node.active_speaker("room") == "alice"
        assert any(e.type == "active_speaker" and e.participant_id == "alice" for e in node.events)  # type: ignore[attr-defined]
    finally:
        for sub in subs:
            await sub.close()
        await pub.pc.close()


def _sent(node: SfuNode, who: str, track_id: str) -> int:
    return int(node.subscriptions("room", who)[track_id]["packets_sent"])  # type: ignore[call-overload]


async def test_pause_resume_unsubscribe_and_renegotiation(node: SfuNode) -> None:
    await node.create_space("room")
    await node.add_participant("room", "alice")
    await node.add_participant("room", "bob")
    pub = await publish(node, "room", "alice")
    video, audio = pub.track_ids["video"], pub.track_ids["audio"]
    sub = await subscribe(node, "room", "bob", [video])
    try:
        await sub.wait_for(video=5, audio=0)
        node.pause("room", "bob", video)
        await asyncio.sleep(0.1)
        paused_at = _sent(node, "bob", video)
        frames_at = len(sub.frames["video"])
        await asyncio.sleep(0.5)
        assert _sent(node, "bob", video) == paused_at  # nothing sent while paused
        assert len(sub.frames["video"]) <= frames_at + 1
        node.resume("room", "bob", video)
        await sub.wait_for(video=frames_at + 10, audio=0)  # restarts on a fresh keyframe

        # add audio later: renegotiation with the node as offerer
        assert await node.subscribe("room", "bob", audio)
        from tests.sfu.peers import negotiate

        await negotiate(node, "room", "bob", sub)
        await sub.wait_for(video=frames_at + 15, audio=10)

        # publisher mute: nothing forwarded; unmute: flows again
        node.set_muted("room", "alice", video, True)
        assert any(e.type == "track_muted" for e in node.events)  # type: ignore[attr-defined]
        await asyncio.sleep(0.1)
        muted_at = _sent(node, "bob", video)
        await asyncio.sleep(0.4)
        assert _sent(node, "bob", video) == muted_at
        node.set_muted("room", "alice", video, False)
        await asyncio.sleep(0.6)
        assert _sent(node, "bob", video) > muted_at

        await node.unsubscribe("room", "bob", video)
        assert list(node.subscriptions("room", "bob")) == [audio]
    finally:
        await sub.close()
        await pub.pc.close()


async def test_nack_recovery_with_injected_loss(node: SfuNode) -> None:
    """Loss on both hops: the node NACKs the publisher for what it missed, and answers the
    subscriber's NACKs from its cache (RTX); the subscriber still decodes."""
    await node.create_space("room")
    await node.add_participant("room", "alice")
    await node.add_participant("room", "bob")
    pub = await publish(node, "room", "alice")
    video = pub.track_ids["video"]
    space = node._spaces["room"]  # test-only peek at the wiring

    # upstream: drop every 7th first transmission arriving from the publisher
    published = next(p for p in space.participants["alice"].published.values() if p.track_id == video)
    inbound = published.inbound
    original_on_rtp = inbound.on_rtp
    seen = {"n": 0}

    async def lossy_in(packet, arrival):  # type: ignore[no-untyped-def]
        if packet.payload_type == 97:
            seen["n"] += 1
            if seen["n"] % 7 == 0:
                return
        await original_on_rtp(packet, arrival)

    inbound.on_rtp = lossy_in  # type: ignore[method-assign]
    sub = await subscribe(node, "room", "bob", [video])
    # downstream: drop every 5th packet of the first transmission to bob
    down = space.participants["bob"].subscriptions[video].down
    original_send = down._send
    sent = {"n": 0}

    def lossy_out(data: bytes) -> bool:
        if data[1] & 0x7F != 98:  # not RTX
            sent["n"] += 1
            if sent["n"] % 5 == 0:
                return True  # "sent", but lost on the way
        return original_send(data)

    down._send = lossy_out
    down._wire = None  # keep bob's copies on the Python path, where the loss is injected
    down.lane.disarm()
    nacks_up = metric("venuekit_sfu_nacks_sent_total", kind="video")
    nacks_down = metric("venuekit_sfu_nacks_received_total", kind="video")
    rtx = metric("venuekit_sfu_retransmissions_total", mode="rtx")
    try:
        await sub.wait_for(video=40, audio=0, within_s=20)
        assert metric("venuekit_sfu_nacks_sent_total", kind="video") > nacks_up
        assert metric("venuekit_sfu_nacks_received_total", kind="video") > nacks_down
        assert metric("venuekit_sfu_retransmissions_total", mode="rtx") > rtx
        assert down.retransmissions > 0
    finally:
        await sub.close()
        await pub.pc.close()


async def test_vanished_peers_are_cleaned_up(node: SfuNode) -> None:
    await node.create_space("room")
    for who in ("alice", "bob", "carol"):
        await node.add_participant("room", who)
    pub = await publish(node, "room", "alice")
    bob = await subscribe(node, "room", "bob", pub.track_ids.values())
    carol = await subscribe(node, "room", "carol", pub.track_ids.values())
    await bob.wait_for(video=3, audio=3)
    await carol.wait_for(video=3, audio=3)

    await bob.close()  # bob's browser tab closes
    await _until(lambda: "bob" not in node.participants("room"))
    left = [e for e in node.events if e.type == "participant_left"]  # type: ignore[attr-defined]
    assert [(e.participant_id, e.data["reason"]) for e in left] == [("bob", "subscribe_closed")]

    await pub.pc.close()  # the publisher vanishes: their tracks go, and carol's subscriptions
    await _until(lambda: "alice" not in node.participants("room"))
    assert node.tracks("room") == []
    assert node.subscriptions("room", "carol") == {}
    unpublished = {e.track_id for e in node.events if e.type == "track_unpublished"}  # type: ignore[attr-defined]
    assert unpublished == set(pub.track_ids.values())
    await carol.close()
    await _until(lambda: node.participants("room") == [])
    assert node.task_count() == 2  # the space's speaker and RTCP tasks


async def _until(condition, within_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for ``condition`` in this task (no helper task, so task counts stay honest)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition still false after {within_s}s")
        await asyncio.sleep(0.05)


def _own_threads() -> set[str]:
    """Threads other than the default executor's (which grows lazily and never shrinks)."""
    import threading

    return {t.name for t in threading.enumerate() if not t.name.startswith("asyncio_")}


def _gauge(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_no_leaks_over_many_joins_and_leaves(node: SfuNode) -> None:
    import gc

    await node.create_space("room")
    await node.add_participant("room", "alice")
    pub = await publish(node, "room", "alice")

    async def cycle(who: str, vanish: bool) -> None:
        await node.add_participant("room", who)
        sub = await subscribe(node, "room", who, pub.track_ids.values())
        await sub.wait_for(video=2, audio=2)
        if vanish:
            await sub.close()  # they vanish; the node notices the closed connection
            await _until(lambda: who not in node.participants("room"))
        else:
            await node.remove_participant("room", who)  # signalling removes them
            await sub.close()

    await cycle("warmup", vanish=False)  # the publisher's tasks and encoder threads are up now
    await asyncio.sleep(0.3)
    baseline_tasks = set(asyncio.all_tasks())
    baseline_threads = _own_threads()
    peers = _gauge("venuekit_sfu_peers", direction="subscribe")
    subs_gauge = _gauge("venuekit_sfu_subscriptions")
    try:
        for i in range(8):
            await cycle(f"s{i}", vanish=i % 2 == 0)
        await asyncio.sleep(0.3)
        gc.collect()
        assert node.participants("room") == ["alice"]
        assert _gauge("venuekit_sfu_peers", direction="subscribe") == peers
        assert _gauge("venuekit_sfu_subscriptions") == subs_gauge
        space = node._spaces["room"]
        assert space.table.subscribers() == frozenset()
        space.table.check_invariants()
        try:
            await _until(lambda: not (asyncio.all_tasks() - baseline_tasks))
        except TimeoutError:
            raise AssertionError(f"tasks left: {asyncio.all_tasks() - baseline_tasks}") from None
        await _until(lambda: _own_threads() <= baseline_threads)
        assert decoder_threads() == 0  # the subscribers' are gone, and the node never had any
    finally:
        await pub.pc.close()


async def test_publisher_renegotiation_adds_and_removes_tracks(node: SfuNode) -> None:
    from aiortc import RTCSessionDescription

    from tests.sfu.peers import MovingVideo, ToneAudio, new_pc

    await node.create_space("room")
    await node.add_participant("room", "alice")
    await node.add_participant("room", "bob")
    pc = new_pc()
    pc.addTransceiver(MovingVideo(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    first = await node.publish("room", "alice", pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=first.sdp, type="answer"))
    assert first.added == ("alice:0",)

    audio_t = pc.addTransceiver(ToneAudio(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    second = await node.publish("room", "alice", pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=second.sdp, type="answer"))
    assert second.added == ("alice:1",) and second.removed == ()
    assert {t.kind for t in second.tracks} == {"video", "audio"}

    sub = await subscribe(node, "room", "bob", ["alice:0", "alice:1"])
    try:
        await sub.wait_for(video=5, audio=5)
        audio_t.direction = "inactive"
        await pc.setLocalDescription(await pc.createOffer())
        third = await node.publish("room", "alice", pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=third.sdp, type="answer"))
        assert third.removed == ("alice:1",)
        assert [t.track_id for t in node.tracks("room")] == ["alice:0"]
        assert list(node.subscriptions("room", "bob")) == ["alice:0"]  # bob's audio went with it
        events = [(e.type, e.track_id) for e in node.events]  # type: ignore[attr-defined]
        assert ("track_unpublished", "alice:1") in events
        frames = len(sub.frames["video"])
        await sub.wait_for(video=frames + 5, audio=0)  # video carries on
    finally:
        await sub.close()
        await pc.close()


async def test_unsubscribed_slot_is_reused_and_the_stream_switches(node: SfuNode) -> None:
    from aiortc import RTCSessionDescription

    await node.create_space("room")
    for who in ("alice", "carol", "bob"):
        await node.add_participant("room", who)
    alice = await publish(node, "room", "alice")
    carol = await publish(node, "room", "carol", size=(160, 120))
    sub = await subscribe(node, "room", "bob", [alice.track_ids["video"]])
    try:
        await sub.wait_for(video=5, audio=0)
        assert (sub.frames["video"][-1].width, sub.frames["video"][-1].height) == (WIDTH, HEIGHT)
        first_mid = node.subscriptions("room", "bob")[alice.track_ids["video"]]["mid"]

        await node.unsubscribe("room", "bob", alice.track_ids["video"])
        await node.subscribe("room", "bob", carol.track_ids["video"])
        offer = await node.subscriber_offer("room", "bob")
        assert offer.mids == {carol.track_ids["video"]: first_mid}  # same m-section
        assert offer.sdp.count("m=video") == 1
        await sub.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        await sub.pc.setLocalDescription(await sub.pc.createAnswer())
        await node.subscriber_answer("room", "bob", sub.pc.localDescription.sdp)

        last = sub.frames["video"]
        await _until(lambda: (last[-1].width, last[-1].height) == (160, 120))
        frames = len(sub.frames["video"])
        await sub.wait_for(video=frames + 5, audio=0)  # and keeps decoding
        assert node.subscriptions("room", "bob")[carol.track_ids["video"]]["ready"]
    finally:
        await sub.close()
        await alice.pc.close()
        await carol.pc.close()
