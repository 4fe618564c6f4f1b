"""Codec matching between a publisher's and a subscriber's negotiation."""

from __future__ import annotations

from sfu.codecs import is_supported, make_codec, map_payload_types


def test_payload_types_map_by_format() -> None:
    pub = [make_codec("video/VP8", 90000, 120, rtx_payload_type=121), make_codec("video/H264", 90000, 125)]
    sub = [make_codec("video/VP8", 90000, 97, rtx_payload_type=98)]
    pt = map_payload_types(pub, sub)
    assert dict(pt.media) == {120: 97}
    assert dict(pt.rtx) == {97: 98}


def test_h264_profiles_must_agree_but_levels_may_differ() -> None:
    base = {"packetization-mode": "1", "profile-level-id": "42e01f"}
    pub = make_codec("video/H264", 90000, 100, parameters=base)
    same_profile = make_codec("video/H264", 90000, 102, parameters={**base, "profile-level-id": "42e034"})
    other_profile = make_codec("video/H264", 90000, 104, parameters={**base, "profile-level-id": "640c1f"})
    other_mode = make_codec("video/H264", 90000, 106, parameters={**base, "packetization-mode": "0"})
    assert pub.same_format(same_profile)
    assert not pub.same_format(other_profile)
    assert not pub.same_format(other_mode)


def test_audio_channels_and_clock() -> None:
    opus = make_codec("audio/opus", 48000, 111, channels=2)
    assert opus.same_format(make_codec("audio/OPUS", 48000, 96, channels=2))
    assert not opus.same_format(make_codec("audio/opus", 48000, 96, channels=1))
    assert not opus.same_format(make_codec("audio/opus", 16000, 96, channels=2))
    assert opus.kind == "audio" and opus.name == "OPUS"
    assert is_supported(opus)
    assert not is_supported(make_codec("video/AV1", 90000, 45))
