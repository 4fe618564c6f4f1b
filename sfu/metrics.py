"""Prometheus metrics of the media plane (``venuekit_sfu_*``), on the default registry.

Labels are low-cardinality on purpose: media kind, direction, a reason from a fixed list; never
a space, participant or track id.
"""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import Counter, Gauge, Histogram

Kind = Literal["audio", "video"]

# Why a packet was dropped (the ``reason`` label of DROPPED_PACKETS).
DropReason = Literal[
    "malformed_rtp",  # RTP that does not parse
    "malformed_rtcp",  # RTCP that does not parse
    "unknown_ssrc",  # RTP no receiver claims (unknown SSRC / payload type)
    "unknown_payload_type",  # a receiver's packet with a payload type it did not negotiate
    "malformed_rtx",  # an RTX packet too short to hold the original sequence number
    "codec_mismatch",  # the subscriber did not negotiate this packet's codec
    "not_connected",  # the subscriber's transport is not (or no longer) connected
    "stale",  # older than the start of the subscriber's current segment
    "send_failed",  # SRTP protect or the socket refused a copy (a full socket buffer, say)
    "internal_error",  # a bug: logged with its traceback, never raised into aiortc
]

RECEIVED_PACKETS: Final = Counter(
    "venuekit_sfu_received_packets_total", "RTP packets received from publishers", ["kind"]
)
RECEIVED_BYTES: Final = Counter(
    "venuekit_sfu_received_bytes_total", "RTP payload bytes received from publishers", ["kind"]
)
SENT_PACKETS: Final = Counter(
    "venuekit_sfu_sent_packets_total", "RTP packets sent to subscribers (retransmissions included)", ["kind"]
)
SENT_BYTES: Final = Counter(
    "venuekit_sfu_sent_bytes_total", "RTP bytes (headers included) sent to subscribers", ["kind"]
)
DROPPED_PACKETS: Final = Counter(
    "venuekit_sfu_dropped_packets_total", "RTP/RTCP packets dropped instead of forwarded", ["reason"]
)
NACKS_RECEIVED: Final = Counter(
    "venuekit_sfu_nacks_received_total", "Sequence numbers NACKed by subscribers", ["kind"]
)
NACKS_SENT: Final = Counter(
    "venuekit_sfu_nacks_sent_total", "Sequence numbers NACKed towards publishers (upstream loss)", ["kind"]
)
PLIS_RECEIVED: Final = Counter(
    "venuekit_sfu_plis_received_total", "PLI and FIR messages received from subscribers", ["type"]
)
KEYFRAME_REQUESTS: Final = Counter(
    "venuekit_sfu_keyframe_requests_total",
    "Keyframe requests (PLI) sent to publishers, after throttling",
    ["reason"],
)
RETRANSMISSIONS: Final = Counter(
    "venuekit_sfu_retransmissions_total", "Packets resent to subscribers from the cache", ["mode"]
)
RETRANSMISSIONS_DROPPED: Final = Counter(
    "venuekit_sfu_retransmissions_dropped_total",
    "NACKed packets not resent because the subscriber's retransmission budget was spent",
)
RETRANSMISSION_MISSES: Final = Counter(
    "venuekit_sfu_retransmission_misses_total", "NACKed packets no longer (or never) in the cache"
)
FORWARDING_LATENCY: Final = Histogram(
    "venuekit_sfu_forwarding_latency_seconds",
    "Time from a packet's arrival in the SFU to its hand-off to a subscriber's transport",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
TRACKS: Final = Gauge("venuekit_sfu_tracks", "Published tracks", ["kind"])
SUBSCRIPTIONS: Final = Gauge("venuekit_sfu_subscriptions", "Track subscriptions (down-tracks)")
PEERS: Final = Gauge("venuekit_sfu_peers", "Peer connections", ["direction"])
SPACES: Final = Gauge("venuekit_sfu_spaces", "Open spaces")
REJECTED: Final = Counter(
    "venuekit_sfu_rejected_requests_total", "Node API requests refused with an SfuError", ["code"]
)
ACTIVE_SPEAKER_CHANGES: Final = Counter(
    "venuekit_sfu_active_speaker_changes_total", "Active-speaker changes announced"
)
REMB_BITRATE: Final = Histogram(
    "venuekit_sfu_remb_bitrate_bps",
    "Receiver-estimated maximum bitrates reported by subscribers",
    buckets=(50e3, 100e3, 250e3, 500e3, 1e6, 2e6, 4e6, 8e6),
)


def dropped(reason: DropReason, count: int = 1) -> None:
    DROPPED_PACKETS.labels(reason).inc(count)
