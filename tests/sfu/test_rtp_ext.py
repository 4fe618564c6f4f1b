"""Header-extension id remapping between a publisher's and a subscriber's negotiation."""

from __future__ import annotations

from aiortc.rtp import HeaderExtensions, RtpPacket, unpack_header_extensions
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.rtp_ext import (
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    abs_send_time,
    audio_level,
    extension_map,
    rewrite_extensions,
)

PUBLISHER = ((URI_MID, 4), (URI_AUDIO_LEVEL, 1), (URI_ABS_SEND_TIME, 9))
SUBSCRIBER = ((URI_MID, 1), (URI_AUDIO_LEVEL, 2))  # no abs-send-time negotiated


def _raw_ids(data: bytes) -> dict[int, bytes]:
    profile, length = int.from_bytes(data[12:14], "big"), int.from_bytes(data[14:16], "big") * 4
    return dict(unpack_header_extensions(profile, data[16 : 16 + length]))


def test_ids_are_remapped_and_per_hop_values_rewritten() -> None:
    pub_map = extension_map(PUBLISHER)
    original = RtpPacket(payload_type=111, sequence_number=1, timestamp=2, ssrc=3, payload=b"opus")
    original.extensions = HeaderExtensions(mid="0", audio_level=(True, 33), abs_send_time=1234)
    wire = original.serialize(pub_map)
    assert _raw_ids(wire) == {4: b"0", 1: bytes([0x80 | 33]), 9: (1234).to_bytes(3, "big")}

    parsed = RtpPacket.parse(wire, pub_map)
    assert parsed.extensions.audio_level == (True, 33)
    out = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=7, payload=parsed.payload)
    out.extensions = rewrite_extensions(parsed.extensions, mid="5", send_time=1000.0)
    sub_wire = out.serialize(extension_map(SUBSCRIBER))
    assert _raw_ids(sub_wire) == {1: b"5", 2: bytes([0x80 | 33])}
    back = RtpPacket.parse(sub_wire, extension_map(SUBSCRIBER))
    assert back.extensions.mid == "5"
    assert back.extensions.audio_level == (True, 33)
    assert back.payload == b"opus"


def test_stream_ids_and_transport_cc_are_dropped() -> None:
    ext = HeaderExtensions(rtp_stream_id="hi", repaired_rtp_stream_id="hi", transport_sequence_number=9)
    out = rewrite_extensions(ext, mid=None, send_time=None)
    assert out == HeaderExtensions()


def test_abs_send_time_is_24_bit_fixed_point() -> None:
    a = abs_send_time(1000.0)
    b = abs_send_time(1000.5)
    assert 0 <= a < 1 << 24
    assert (b - a) % (1 << 24) == 1 << 17  # half a second in 6.18


@settings(deadline=None)
@given(st.one_of(st.none(), st.integers(), st.tuples(st.booleans(), st.integers(-500, 500)), st.text()))
def test_audio_level_validates(value: object) -> None:
    result = audio_level(HeaderExtensions(audio_level=value))
    if result is not None:
        assert 0 <= result[1] <= 127


def test_unknown_uris_are_ignored() -> None:
    ext_map = extension_map((("urn:example:nope", 5), (URI_MID, 3)))
    pkt = RtpPacket()
    pkt.extensions = HeaderExtensions(mid="1")
    assert _raw_ids(pkt.serialize(ext_map)) == {3: b"1"}
