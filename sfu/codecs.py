"""Codecs as negotiated on one peer connection, and matching a publisher's to a subscriber's.

Payload types are per peer connection: the same VP8 may be 97 from the publisher and 96 towards
a subscriber. Two codecs carry the same format when MIME type and clock rate match (and the
channel count for audio; packetization mode and profile for H.264); the forwarder rewrites
the payload type to the subscriber's number for that format.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

# What the SFU forwards. Anything else in an offer is refused (audio) or not negotiated.
SUPPORTED_MIME_TYPES: Final = frozenset(
    {"audio/opus", "audio/pcmu", "audio/pcma", "audio/g722", "video/vp8", "video/h264"}
)


@dataclass(frozen=True, slots=True)
class Codec:
    mime_type: str
    clock_rate: int
    payload_type: int
    channels: int | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    rtx_payload_type: int | None = None

    @property
    def kind(self) -> str:
        return self.mime_type.split("/", 1)[0].lower()

    @property
    def name(self) -> str:
        """The encoding name, upper case (``VP8``, ``OPUS``)."""
        return self.mime_type.split("/", 1)[-1].upper()

    def parameter(self, name: str, default: str = "") -> str:
        for key, value in self.parameters:
            if key == name:
                return value
        return default

    def same_format(self, other: Codec) -> bool:
        if self.mime_type.lower() != other.mime_type.lower() or self.clock_rate != other.clock_rate:
            return False
        if self.kind == "audio" and (self.channels or 1) != (other.channels or 1):
            return False
        if self.name == "H264":
            return self.parameter("packetization-mode", "0") == other.parameter(
                "packetization-mode", "0"
            ) and _h264_profile(self) == _h264_profile(other)
        return True


def _h264_profile(codec: Codec) -> str:
    # profile_idc and the constraint flags; the level may differ between the two sides.
    return codec.parameter("profile-level-id", "42e01f")[:4].lower()


def make_codec(
    mime_type: str,
    clock_rate: int,
    payload_type: int,
    *,
    channels: int | None = None,
    parameters: Mapping[str, object] | None = None,
    rtx_payload_type: int | None = None,
) -> Codec:
    params = tuple(sorted((str(k), str(v)) for k, v in (parameters or {}).items()))
    return Codec(mime_type, clock_rate, payload_type, channels, params, rtx_payload_type)


def is_supported(codec: Codec) -> bool:
    return is_supported_mime(codec.mime_type)


def is_supported_mime(mime_type: str) -> bool:
    return mime_type.lower() in SUPPORTED_MIME_TYPES


@dataclass(frozen=True, slots=True)
class PayloadTypeMap:
    """Publisher payload type -> subscriber payload type (and the subscriber's RTX type)."""

    media: Mapping[int, int] = field(default_factory=dict)
    rtx: Mapping[int, int] = field(default_factory=dict)  # subscriber media PT -> subscriber RTX PT


def map_payload_types(publisher: Iterable[Codec], subscriber: Iterable[Codec]) -> PayloadTypeMap:
    """Map each publisher codec to the first subscriber codec of the same format.

    Publisher codecs without a match are absent: their packets are not forwarded.
    """
    subscriber_codecs = list(subscriber)
    media: dict[int, int] = {}
    rtx: dict[int, int] = {}
    for pub in publisher:
        for sub in subscriber_codecs:
            if pub.same_format(sub):
                media[pub.payload_type] = sub.payload_type
                if sub.rtx_payload_type is not None:
                    rtx[sub.payload_type] = sub.rtx_payload_type
                break
    return PayloadTypeMap(media=media, rtx=rtx)
