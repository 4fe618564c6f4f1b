"""The node API: structured errors, limits, malformed input (without media flowing)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCRtpSender
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from sfu import aiortc_glue
from sfu.node import Limits, SfuError, SfuErrorCode, SfuNode
from tests.sfu.peers import MovingVideo, ToneAudio, new_pc


@pytest.fixture
async def node() -> AsyncIterator[SfuNode]:
    n = SfuNode(ice_host_addresses=("127.0.0.1",))
    await n.create_space("room")
    yield n
    await n.close()
    aiortc_glue.set_ice_host_addresses(None)


async def make_offer(*, video: bool = True, audio: bool = True, vp8_only: bool = False) -> str:
    pc = new_pc()
    if video:
        t = pc.addTransceiver(MovingVideo(), direction="sendonly")
        if vp8_only:
            caps = RTCRtpSender.getCapabilities("video").codecs
            t.setCodecPreferences([c for c in caps if c.mimeType in ("video/VP8", "video/rtx")])
    if audio:
        pc.addTransceiver(ToneAudio(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def rejected(code: str) -> float:
    return REGISTRY.get_sample_value("venuekit_sfu_rejected_requests_total", {"code": code}) or 0.0


async def expect(code: SfuErrorCode, coro: object) -> SfuError:
    with pytest.raises(SfuError) as exc:
        await coro  # type: ignore[misc]
    assert exc.value.code == code, exc.value
    return exc.value


def test_error_shape() -> None:
    before = rejected("too_many_publishers")
    err = SfuError(SfuErrorCode.TOO_MANY_PUBLISHERS, "full", limit=3)
    assert err.to_dict() == {"code": "too_many_publishers", "message": "full", "details": {"limit": 3}}
    assert str(err) == "too_many_publishers: full"
    assert rejected("too_many_publishers") == before + 1


async def test_spaces_and_participants(node: SfuNode) -> None:
    await expect(SfuErrorCode.SPACE_EXISTS, node.create_space("room"))
    await expect(SfuErrorCode.INVALID_ARGUMENT, node.create_space(""))
    await expect(SfuErrorCode.UNKNOWN_SPACE, node.add_participant("nope", "a"))
    await node.add_participant("room", "a")
    await expect(SfuErrorCode.PARTICIPANT_EXISTS, node.add_participant("room", "a"))
    await expect(SfuErrorCode.INVALID_ARGUMENT, node.add_participant("room", "a:b"))
    await expect(SfuErrorCode.UNKNOWN_PARTICIPANT, node.publish("room", "ghost", "v=0"))
    assert node.participants("room") == ["a"]
    await node.remove_participant("room", "a")
    await expect(SfuErrorCode.UNKNOWN_PARTICIPANT, node.remove_participant("room", "a"))
    await node.close_space("room")
    assert node.spaces() == []
    await node.create_space("room")


async def test_space_limit() -> None:
    n = SfuNode(limits=Limits(max_spaces=1))
    await n.create_space("a")
    err = await expect(SfuErrorCode.TOO_MANY_SPACES, n.create_space("b"))
    assert "maximum" in err.message
    await n.close()
    await expect(SfuErrorCode.NODE_CLOSED, n.create_space("c"))


@pytest.mark.parametrize(
    "sdp",
    [None, 42, "", "   ", "garbage", "v=0\r\nm=video\r\n", "v=0\r\n" + "a=x\r\n" * 20000],
)
async def test_malformed_sdp_is_refused(node: SfuNode, sdp: object) -> None:
    await node.add_participant("room", "a")
    await expect(SfuErrorCode.MALFORMED_SDP, node.publish("room", "a", sdp))  # type: ignore[arg-type]


async def test_unsupported_codec_is_refused(node: SfuNode) -> None:
    await node.add_participant("room", "a")
    offer = (await make_offer(audio=False, vp8_only=True)).replace("VP8/90000", "AV1/90000")
    err = await expect(SfuErrorCode.UNSUPPORTED_CODEC, node.publish("room", "a", offer))
    assert err.details["offered"] == ["video/AV1"]
    # nothing was left behind: a good offer works afterwards
    answer = await node.publish("room", "a", await make_offer())
    assert {t.kind for t in answer.tracks} == {"video", "audio"}


async def test_offer_missing_ice_credentials_fails_negotiation(node: SfuNode) -> None:
    await node.add_participant("room", "a")
    offer = "\r\n".join(
        line for line in (await make_offer()).split("\r\n") if not line.startswith("a=ice-pwd")
    )
    await expect(SfuErrorCode.NEGOTIATION_FAILED, node.publish("room", "a", offer))


async def test_inconsistent_bundle_is_refused_before_aiortc_sees_it(node: SfuNode) -> None:
    """Found by the fuzzer: with mid 0 renamed, BUNDLE "0 1" names a missing mid; aiortc would
    move the transceiver onto a None transport and then fail to close the connection."""
    await node.add_participant("room", "a")
    offer = (await make_offer(audio=True)).replace("a=mid:0\r\n", "a=mid:7\r\n", 1)
    err = await expect(SfuErrorCode.MALFORMED_SDP, node.publish("room", "a", offer))
    assert "BUNDLE" in err.message
    dup = (await make_offer(audio=True)).replace("a=mid:1\r\n", "a=mid:0\r\n", 1)
    await expect(SfuErrorCode.MALFORMED_SDP, node.publish("room", "a", dup))


async def test_publisher_and_track_limits() -> None:
    n = SfuNode(
        limits=Limits(max_publishers_per_space=1, max_tracks_per_publisher=1),
        ice_host_addresses=("127.0.0.1",),
    )
    try:
        await n.create_space("room")
        await n.add_participant("room", "a")
        await n.add_participant("room", "b")
        err = await expect(SfuErrorCode.TOO_MANY_TRACKS, n.publish("room", "a", await make_offer()))
        assert err.details == {"limit": 1}
        await n.publish("room", "a", await make_offer(audio=False))
        err = await expect(
            SfuErrorCode.TOO_MANY_PUBLISHERS, n.publish("room", "b", await make_offer(audio=False))
        )
        assert err.to_dict()["details"] == {"limit": 1}
        await n.create_space("other", limits=Limits(max_publishers_per_space=5))
        await n.add_participant("other", "b")
        await n.publish("other", "b", await make_offer())  # per-space limits
    finally:
        await n.close()
        aiortc_glue.set_ice_host_addresses(None)


async def test_subscription_errors_and_subscriber_limit() -> None:
    n = SfuNode(limits=Limits(max_subscribers_per_space=1), ice_host_addresses=("127.0.0.1",))
    try:
        await n.create_space("room")
        for who in ("a", "b", "c"):
            await n.add_participant("room", who)
        answer = await n.publish("room", "a", await make_offer())
        video = next(t.track_id for t in answer.tracks if t.kind == "video")
        assert video == "a:0"
        await expect(SfuErrorCode.UNKNOWN_TRACK, n.subscribe("room", "b", "a:9"))
        await expect(SfuErrorCode.OWN_TRACK, n.subscribe("room", "a", video))
        await expect(SfuErrorCode.INVALID_STATE, n.subscriber_offer("room", "b"))
        assert await n.subscribe("room", "b", video)
        await expect(SfuErrorCode.ALREADY_SUBSCRIBED, n.subscribe("room", "b", video))
        await expect(SfuErrorCode.TOO_MANY_SUBSCRIBERS, n.subscribe("room", "c", video))
        await expect(SfuErrorCode.INVALID_STATE, n.subscriber_answer("room", "b", await make_offer()))
        offer = await n.subscriber_offer("room", "b")
        assert offer.mids == {video: "0"}
        assert "a=sendonly" in offer.sdp
        await expect(SfuErrorCode.INVALID_STATE, n.subscriber_offer("room", "b"))
        with pytest.raises(SfuError) as exc:
            n.pause("room", "c", video)
        assert exc.value.code == SfuErrorCode.NOT_SUBSCRIBED
        await expect(SfuErrorCode.NOT_SUBSCRIBED, n.unsubscribe("room", "c", video))
        await n.unsubscribe("room", "b", video)
        assert n.subscriptions("room", "b") == {}
        with pytest.raises(SfuError) as exc:
            n.set_muted("room", "b", video, True)
        assert exc.value.code == SfuErrorCode.UNKNOWN_TRACK
    finally:
        await n.close()
        aiortc_glue.set_ice_host_addresses(None)


async def test_ice_candidates(node: SfuNode) -> None:
    await node.add_participant("room", "a")
    await expect(
        SfuErrorCode.INVALID_STATE,
        node.add_ice_candidate("room", "a", "publish", "candidate:1 1 udp 1 127.0.0.1 9 typ host"),
    )
    await node.publish("room", "a", await make_offer())
    await node.add_ice_candidate(
        "room", "a", "publish", "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", sdp_mid="0"
    )
    await node.add_ice_candidate(
        "room", "a", "publish", "a=candidate:2 1 udp 2130706431 127.0.0.1 50001 typ host"
    )
    await expect(
        SfuErrorCode.BAD_CANDIDATE, node.add_ice_candidate("room", "a", "publish", "candidate:nonsense")
    )
    await expect(SfuErrorCode.INVALID_ARGUMENT, node.add_ice_candidate("room", "a", "sideways", None))  # type: ignore[arg-type]
    await node.add_ice_candidate("room", "a", "publish", None)


@pytest.fixture(scope="module")
def good_offer() -> str:
    import asyncio

    return asyncio.run(make_offer())


def _mutations(offer: str) -> st.SearchStrategy[str]:
    lines = offer.split("\r\n")

    @st.composite
    def mutate(draw: st.DrawFn) -> str:
        out = list(lines)
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["drop", "dup", "garble", "insert", "truncate"]))
            i = draw(st.integers(0, len(out) - 1))
            if op == "drop":
                del out[i]
            elif op == "dup":
                out.insert(i, out[i])
            elif op == "garble":
                line = out[i]
                j = draw(st.integers(0, max(0, len(line) - 1)))
                out[i] = line[:j] + draw(st.text(max_size=6)) + line[j + 1 :]
            elif op == "insert":
                out.insert(
                    i,
                    draw(
                        st.sampled_from(
                            [
                                "m=video 9 UDP/TLS/RTP/SAVPF 97",
                                "a=rtpmap:97 X/0",
                                "a=mid:",
                                "a=fmtp:97 apt=x",
                                "a=ssrc:x",
                                "a=extmap:99 u",
                                "a=rtcp-fb:*",
                            ]
                        )
                    ),
                )
            else:
                out = out[:i]
            if not out:
                out = [""]
        return "\r\n".join(out)

    return mutate()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_fuzz_publish_offers_only_ever_refuse_cleanly(
    node: SfuNode, good_offer: str, data: st.DataObject
) -> None:
    """Mutated offers are either applied or refused with an SfuError; nothing else escapes and
    the node keeps working."""
    offer = data.draw(_mutations(good_offer))
    who = f"p{id(offer)}"
    await node.add_participant("room", who)
    try:
        await node.publish("room", who, offer)
    except SfuError as exc:
        assert exc.code in {
            SfuErrorCode.MALFORMED_SDP,
            SfuErrorCode.UNSUPPORTED_CODEC,
            SfuErrorCode.NEGOTIATION_FAILED,
            SfuErrorCode.TOO_MANY_TRACKS,
        }
    finally:
        await node.remove_participant("room", who)


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=300))
def test_fuzz_sdp_parser(text: str) -> None:
    with contextlib.suppress(ValueError):
        aiortc_glue.parse_sdp(text)
