"""The byte-level packet writer against aiortc's serializer (what the forwarder used to do)."""

from __future__ import annotations

from aiortc.rtp import HeaderExtensions, RtpPacket
from hypothesis import given
from hypothesis import strategies as st

from sfu.rtp_ext import (
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    URI_TOFFSET,
    abs_send_time,
    extension_map,
    rewrite_extensions,
)
from sfu.rtp_write import HeaderWriter, Outgoing

URIS = (URI_MID, URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, URI_TOFFSET)


@st.composite
def upstream_packets(draw: st.DrawFn) -> RtpPacket:
    packet = RtpPacket(
        payload_type=draw(st.integers(0, 127)),
        marker=draw(st.integers(0, 1)),
        sequence_number=draw(st.integers(0, 0xFFFF)),
        timestamp=draw(st.integers(0, 0xFFFF_FFFF)),
        ssrc=draw(st.integers(0, 0xFFFF_FFFF)),
        payload=draw(st.binary(max_size=64)),
    )
    packet.csrc = draw(st.lists(st.integers(0, 0xFFFF_FFFF), max_size=3))
    packet.padding_size = draw(st.integers(0, 8))
    packet.extensions = HeaderExtensions(
        mid=draw(st.none() | st.text("abc123", min_size=1, max_size=4)),
        audio_level=draw(st.none() | st.tuples(st.booleans(), st.integers(0, 127))),
        transmission_offset=draw(st.none() | st.integers(-(1 << 23), (1 << 23) - 1)),
    )
    return packet


# One copy to write: the upstream packet, the subscriber's extension ids (which of mid,
# abs-send-time, audio level, toffset it negotiated), its mid, and the munged header fields.
WRITER_CASES = {
    "packet": upstream_packets(),
    "ids": st.permutations(range(1, 15)).map(lambda p: p[:4]),
    "present": st.lists(st.booleans(), min_size=4, max_size=4),
    "mid": st.none() | st.text("0123456789", min_size=1, max_size=16),
    "pt": st.integers(0, 127),
    "seq": st.integers(0, 0xFFFF),
    "ts": st.integers(0, 0xFFFF_FFFF),
    "ssrc": st.integers(0, 0xFFFF_FFFF),
    "wallclock": st.floats(1e9, 2e9),
}


@given(**WRITER_CASES)
def test_writer_matches_the_serializer(
    packet: RtpPacket,
    ids: list[int],
    present: list[bool],
    mid: str | None,
    pt: int,
    seq: int,
    ts: int,
    ssrc: int,
    wallclock: float,
) -> None:
    extensions = tuple((uri, i) for uri, i, on in zip(URIS, ids, present, strict=True) if on)
    writer = HeaderWriter(ssrc, mid, extensions)
    assert writer.fast
    data = writer.write(Outgoing(packet, wallclock), pt, seq, ts)
    ext_map = extension_map(extensions)
    got = RtpPacket.parse(data, ext_map)
    assert (got.payload_type, got.marker, got.sequence_number, got.timestamp, got.ssrc) == (
        pt,
        packet.marker,
        seq,
        ts,
        ssrc,
    )
    assert (got.csrc, got.payload, got.padding_size) == (packet.csrc, packet.payload, packet.padding_size)
    wanted = rewrite_extensions(packet.extensions, mid=mid, send_time=wallclock)
    by_uri = dict(extensions)
    assert got.extensions.mid == (wanted.mid if URI_MID in by_uri else None)
    assert got.extensions.abs_send_time == (abs_send_time(wallclock) if URI_ABS_SEND_TIME in by_uri else None)
    assert got.extensions.audio_level == (wanted.audio_level if URI_AUDIO_LEVEL in by_uri else None)
    assert got.extensions.transmission_offset == (
        wanted.transmission_offset if URI_TOFFSET in by_uri else None
    )
    if packet.padding_size == 0 and wanted.transmission_offset is None:
        # byte for byte what aiortc writes (it pads randomly and shortens toffset to 2 bytes)
        reference = RtpPacket(
            payload_type=pt, marker=packet.marker, sequence_number=seq, timestamp=ts, ssrc=ssrc
        )
        reference.csrc, reference.payload, reference.extensions = packet.csrc, packet.payload, wanted
        assert data == reference.serialize(ext_map)


def test_ids_outside_the_one_byte_form_use_the_serializer() -> None:
    assert not HeaderWriter(1, "0", ((URI_MID, 15),)).fast
    assert not HeaderWriter(1, "x" * 17, ((URI_MID, 1),)).fast
    assert HeaderWriter(1, "x" * 17, ((URI_ABS_SEND_TIME, 3),)).fast  # mid not written at all
