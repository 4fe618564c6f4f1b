"""Prometheus metrics of chat (``venuekit_chat_*``), in the default registry."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN: Final = Counter("venuekit_chat_messages_in_total", "Chat messages accepted and stored", ["kind"])
MESSAGES_OUT: Final = Counter(
    "venuekit_chat_messages_out_total", "Chat items handed to the transport in batches", ["kind"]
)
RECIPIENT_DELIVERIES: Final = Counter(
    "venuekit_chat_recipient_deliveries_total",
    "Chat items times the recipients of their batch (what clients receive)",
    ["kind"],
)
DELIVERY_BATCHES: Final = Counter(
    "venuekit_chat_delivery_batches_total", "Encoded batches handed to the transport", ["kind"]
)
BATCH_BYTES: Final = Histogram(
    "venuekit_chat_batch_bytes",
    "Size of one encoded batch",
    buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576),
)
FANOUT_LATENCY: Final = Histogram(
    "venuekit_chat_fanout_latency_seconds",
    "From a message's server timestamp to its batch being handed to the transport",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SINK_ERRORS: Final = Counter(
    "venuekit_chat_sink_errors_total", "Batches the transport failed to take", ["kind"]
)
RATE_LIMITED: Final = Counter(
    "venuekit_chat_rate_limited_total", "Sends refused by the per-participant rate limit", ["kind"]
)
REJECTED: Final = Counter("venuekit_chat_rejected_total", "Chat requests refused, by error code", ["code"])
LISTENER_UP: Final = Gauge(
    "venuekit_chat_listener_up",
    "1 while every stream tail of this instance reads from Redis, 0 while one is failing",
    ["instance"],
)
LISTENER_FAILURES: Final = Counter(
    "venuekit_chat_listener_failures_total",
    "Stream reads that failed or stalled (each is followed by a resume from the last id)",
    ["instance"],
)
TAILED_CHANNELS: Final = Gauge(
    "venuekit_chat_tailed_channels", "Channel streams this instance tails", ["instance"]
)
