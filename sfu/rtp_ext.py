"""RTP header extensions on the forwarding path: ids are per peer connection, meanings are not.

A publisher and a subscriber may negotiate different ids for the same extension URI (a browser
publishing with ``audio-level`` as id 1, an aiortc subscriber expecting id 2). aiortc parses
an incoming packet's extensions *by meaning* with the publisher transport's
:class:`~aiortc.rtp.HeaderExtensionsMap`; the forwarder rewrites the values that are per hop
(``mid`` is the subscriber's m-section, ``abs-send-time`` is the time the SFU sends it), drops
the ones it does not carry through (stream ids, transport-wide sequence numbers), and
serializes with a map built from the *subscriber's* negotiated ids. An extension the
subscriber did not negotiate is not written.

Pure: builds aiortc's value objects (``aiortc.rtp``, ``aiortc.rtcrtpparameters``), no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap

from sfu.rtcp_stats import NTP_EPOCH_OFFSET_S

URI_MID: Final = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_AUDIO_LEVEL: Final = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_ABS_SEND_TIME: Final = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_TOFFSET: Final = "urn:ietf:params:rtp-hdrext:toffset"

# Extensions the SFU forwards or regenerates; anything else is dropped on the way through.
FORWARDED_URIS: Final = frozenset({URI_MID, URI_AUDIO_LEVEL, URI_ABS_SEND_TIME, URI_TOFFSET})


def extension_map(extensions: Iterable[tuple[str, int]]) -> HeaderExtensionsMap:
    """A map from ``(uri, id)`` pairs as negotiated with one peer; unknown URIs are ignored."""
    params = RTCRtpParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=ext_id, uri=uri) for uri, ext_id in extensions]
    )
    ext_map = HeaderExtensionsMap()
    ext_map.configure(params)
    return ext_map


def abs_send_time(unix_time: float) -> int:
    """The 24-bit abs-send-time value (6.18 fixed-point seconds of the NTP clock)."""
    return int((unix_time + NTP_EPOCH_OFFSET_S) * (1 << 18)) & 0xFFFFFF


def rewrite_extensions(
    upstream: HeaderExtensions, *, mid: str | None, send_time: float | None
) -> HeaderExtensions:
    """The extension values to send to one subscriber for a packet that arrived with ``upstream``.

    ``mid`` is the subscriber's m-section id; ``send_time`` (Unix seconds) sets abs-send-time.
    Audio level and transmission offset are kept; stream ids and transport-wide sequence numbers
    (meaningful only on the publisher's hop) are dropped.
    """
    return HeaderExtensions(
        mid=mid,
        audio_level=upstream.audio_level,
        transmission_offset=upstream.transmission_offset,
        abs_send_time=abs_send_time(send_time) if send_time is not None else None,
    )


def audio_level(extensions: HeaderExtensions) -> tuple[bool, int] | None:
    """``(voice_activity, level)`` from the audio-level extension, or ``None`` when absent/invalid.

    ``level`` is -dBov: 0 is the loudest, 127 silence.
    """
    value = extensions.audio_level
    if not isinstance(value, tuple) or len(value) != 2:
        return None
    vad, level = value
    if not isinstance(level, int) or not 0 <= level <= 127:
        return None
    return bool(vad), level
