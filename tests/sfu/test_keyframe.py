"""Keyframe detection on real encoder output, and the keyframe-request throttle."""

from __future__ import annotations

import fractions
import itertools

import av
import pytest
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.keyframe import START_MIN_INTERVAL_S, KeyframeRequestThrottle, is_keyframe_start, needs_keyframe


def _frames(count: int) -> list[av.VideoFrame]:
    frames = []
    for i in range(count):
        frame = av.VideoFrame(160, 120, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(i * 7) % 256]) * plane.buffer_size)
        frame.pts = i * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        frames.append(frame)
    return frames


@pytest.mark.parametrize(
    ("mime", "params"),
    [
        ("video/VP8", {}),
        ("video/H264", {"packetization-mode": "1", "profile-level-id": "42e01f"}),
    ],
)
def test_detects_keyframes_in_encoder_output(mime: str, params: dict[str, str]) -> None:
    codec = RTCRtpCodecParameters(mimeType=mime, clockRate=90000, payloadType=97, parameters=params)
    encoder = get_encoder(codec)
    name = mime.split("/")[1]
    results = []
    for i, frame in enumerate(_frames(4)):
        payloads, _ = encoder.encode(frame, force_keyframe=(i == 3))
        assert payloads
        results.append([is_keyframe_start(name, p) for p in payloads])
    # frame 0 (first) and frame 3 (forced) are keyframes: exactly their first packet counts
    for i in (0, 3):
        assert results[i][0], results
    for i in (1, 2):
        assert not any(results[i]), results


def test_vp8_descriptor_variants() -> None:
    # X=1, I=1 with 15-bit picture id, S=1, PID=0, then a keyframe tag (P bit 0)
    assert is_keyframe_start("VP8", bytes([0x90, 0x80, 0x81, 0x23, 0x10]))
    assert not is_keyframe_start("VP8", bytes([0x90, 0x80, 0x81, 0x23, 0x11]))  # interframe
    assert not is_keyframe_start("VP8", bytes([0x80, 0x80, 0x01, 0x10]))  # not a partition start
    assert is_keyframe_start("VP8", bytes([0x10, 0x00]))  # no extension
    # L, T/K present
    assert is_keyframe_start("VP8", bytes([0x90, 0x70, 0x05, 0x20, 0x00]))


def test_h264_packetizations() -> None:
    assert is_keyframe_start("H264", bytes([0x65, 0x88]))  # IDR slice
    assert is_keyframe_start("H264", bytes([0x67, 0x42]))  # SPS
    assert not is_keyframe_start("H264", bytes([0x41, 0x9A]))  # non-IDR slice
    stap = bytes([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE])
    assert is_keyframe_start("H264", stap)
    assert not is_keyframe_start("H264", bytes([0x78, 0x00, 0x02, 0x41, 0x9A]))
    assert is_keyframe_start("H264", bytes([0x7C, 0x85, 0x00]))  # FU-A start of IDR
    assert not is_keyframe_start("H264", bytes([0x7C, 0x05, 0x00]))  # FU-A middle of IDR


def test_audio_has_no_keyframes() -> None:
    assert not needs_keyframe("opus")
    assert needs_keyframe("vp8")
    assert not is_keyframe_start("opus", b"\x00\x01")


@settings(deadline=None)
@given(st.sampled_from(["VP8", "H264", "opus", "X"]), st.binary(max_size=64))
def test_never_raises_on_garbage(codec: str, payload: bytes) -> None:
    assert isinstance(is_keyframe_start(codec, payload), bool)


def test_throttle_allows_one_per_interval_and_keeps_pending() -> None:
    t = KeyframeRequestThrottle(1.0)
    assert t.request(0.0)
    assert not t.request(0.2)
    assert not t.request(0.5)
    assert t.pending
    assert not t.poll(0.9)
    assert t.poll(1.0)  # the merged pending request goes out once
    assert not t.pending
    assert not t.poll(5.0)
    assert t.request(5.0)


def test_keyframe_arrival_cancels_pending_request() -> None:
    t = KeyframeRequestThrottle(1.0)
    assert t.request(0.0)
    assert not t.request(0.1)
    t.keyframe_received()
    assert not t.poll(2.0)


def test_defer_is_sent_by_poll() -> None:
    t = KeyframeRequestThrottle(1.0)
    t.defer()
    assert t.poll(0.0)
    t.defer()
    assert not t.poll(0.5)
    assert t.poll(1.0)


@settings(deadline=None)
@given(st.lists(st.floats(0, 0.5, allow_nan=False), max_size=200))
def test_throttle_never_exceeds_rate(gaps: list[float]) -> None:
    t = KeyframeRequestThrottle(1.0)
    now = 0.0
    sent: list[float] = []
    for i, gap in enumerate(gaps):
        now += gap
        if t.poll(now) if i % 3 == 0 else t.request(now):
            sent.append(now)
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(sent))


def test_a_starting_subscriber_may_ask_sooner() -> None:
    t = KeyframeRequestThrottle(1.0)
    assert t.request(0.0)
    assert not t.request(0.1, START_MIN_INTERVAL_S)  # pending, due at the shorter interval
    assert not t.poll(0.2)
    assert t.poll(0.25)
    assert not t.request(0.3)  # a relayed PLI still waits the full second
    assert not t.poll(1.2)
    assert t.poll(1.25)


@settings(deadline=None)
@given(st.lists(st.tuples(st.floats(0, 0.4, allow_nan=False), st.integers(0, 2)), max_size=200))
def test_start_requests_are_still_throttled(steps: list[tuple[float, int]]) -> None:
    t = KeyframeRequestThrottle(1.0)
    now = 0.0
    sent: list[float] = []
    for gap, what in steps:
        now += gap
        due = t.poll(now) if what == 0 else t.request(now, START_MIN_INTERVAL_S if what == 1 else None)
        if due:
            sent.append(now)
    assert all(b - a >= START_MIN_INTERVAL_S - 1e-9 for a, b in itertools.pairwise(sent))
