"""RemoteNode against a real node API server: media flows, refusals keep their code, failures are typed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sfu import aiortc_glue
from sfu.node import SfuError, SfuErrorCode, SfuNode
from sfu.server import NodeApi
from signalling.node_client import RemoteNode
from tests.sfu.peers import publish, subscribe
from tests.support.redis_server import free_port

SECRET = "node-secret-" + "c" * 40


@pytest.fixture
async def served() -> AsyncIterator[tuple[SfuNode, RemoteNode, aiohttp.ClientSession, str]]:
    node = SfuNode(ice_host_addresses=("127.0.0.1",))
    app = web.Application()
    NodeApi(node, SECRET).add_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        yield node, RemoteNode(url, SECRET, session), session, url
    await node.close()
    await server.close()
    aiortc_glue.set_ice_host_addresses(None)


@pytest.mark.slow
async def test_media_flows_when_every_call_goes_over_http(served: Any) -> None:
    node, remote, _session, _url = served
    await remote.create_space("ev/hall")
    for who in ("alice", "bob"):
        await remote.add_participant("ev/hall", who)
    assert sorted(await remote.participants("ev/hall")) == ["alice", "bob"]
    publisher = await publish(remote, "ev/hall", "alice")  # type: ignore[arg-type]
    tracks = await remote.tracks("ev/hall")
    assert {t.kind for t in tracks} == {"audio", "video"} and all(t.participant_id == "alice" for t in tracks)
    subscriber = await subscribe(remote, "ev/hall", "bob", publisher.track_ids.values())  # type: ignore[arg-type]
    try:
        await subscriber.wait_for(video=5, audio=5)
        video = publisher.track_ids["video"]
        await remote.set_muted("ev/hall", "alice", video, True)
        assert next(t for t in node.tracks("ev/hall") if t.track_id == video).muted
        await remote.unpublish("ev/hall", "alice", video)
        assert [t.kind for t in await remote.tracks("ev/hall")] == ["audio"]
    finally:
        await subscriber.close()
        await publisher.pc.close()


async def test_labels_travel_with_the_tracks(served: Any) -> None:
    _node, remote, _session, _url = served
    from tests.sfu.peers import MovingVideo, new_pc

    await remote.create_space("ev/s")
    await remote.add_participant("ev/s", "carol")
    pc = new_pc()
    pc.addTransceiver(MovingVideo(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        answer = await remote.publish("ev/s", "carol", pc.localDescription.sdp, {"0": "screen"})
        assert [(t.kind, t.label) for t in answer.tracks] == [("video", "screen")]
        assert [t.label for t in await remote.tracks("ev/s")] == ["screen"]
    finally:
        await pc.close()


async def test_refusals_keep_the_node_code(served: Any) -> None:
    _node, remote, session, url = served
    with pytest.raises(SfuError) as caught:
        await remote.add_participant("nowhere", "p")
    assert caught.value.code is SfuErrorCode.UNKNOWN_SPACE
    await remote.create_space("ev/x")
    with pytest.raises(SfuError) as caught:
        await remote.create_space("ev/x")
    assert caught.value.code is SfuErrorCode.SPACE_EXISTS
    intruder = RemoteNode(url, "not-the-secret", session)
    with pytest.raises(SfuError) as caught:
        await intruder.spaces()
    assert caught.value.code is SfuErrorCode.UNAUTHORIZED


async def test_an_unreachable_node_is_node_unreachable() -> None:
    async with aiohttp.ClientSession() as session:
        gone = RemoteNode(f"http://127.0.0.1:{free_port()}", SECRET, session)
        with pytest.raises(SfuError) as caught:
            await gone.spaces()
    assert caught.value.code is SfuErrorCode.NODE_UNREACHABLE
