"""How much history an event keeps: a maximum length and/or a maximum age per channel stream.

Applied on every append: ``XADD MAXLEN ~ max_len`` (approximate, so trimming is whole radix
nodes and cheap), then ``XTRIM MINID <new id ms - max_age_ms>`` (exact), and the stream key
gets a ``PEXPIRE`` of ``max_age_ms`` so a channel that falls silent disappears once its last
message is too old. 0 means no limit of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Retention:
    max_len: int = 10_000
    max_age_ms: int = 0

    def __post_init__(self) -> None:
        if self.max_len < 0 or self.max_age_ms < 0:
            raise ValueError("retention limits are >= 0 (0 = unlimited)")


DEFAULT_RETENTION = Retention()
