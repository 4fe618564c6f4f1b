"""Per-participant send rate limit: a generic cell rate algorithm (token bucket), pure in ``now_ms``.

``burst`` sends may go at once; after that one send per ``interval_ms``. A refused send is told
exactly when the next one will be accepted (``retry_after_ms``). The state per key is one
integer (the theoretical arrival time), so a table of thousands of participants stays small;
keys whose bucket is full again are pruned.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RatePolicy:
    burst: int = 5
    interval_ms: int = 1000

    def __post_init__(self) -> None:
        if self.burst < 1 or self.interval_ms < 1:
            raise ValueError("burst and interval_ms must be positive")


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_ms: int = 0


def decide(tat_ms: int, now_ms: int, policy: RatePolicy) -> tuple[RateDecision, int]:
    """The decision for one send and the key's next theoretical arrival time."""
    tolerance_ms = (policy.burst - 1) * policy.interval_ms
    tat_ms = max(tat_ms, now_ms)
    if tat_ms - now_ms > tolerance_ms:
        return RateDecision(False, tat_ms - tolerance_ms - now_ms), tat_ms
    return RateDecision(True), tat_ms + policy.interval_ms


class RateLimiter:
    """A table of per-key states for one process; ``take`` is the only way in."""

    def __init__(self, policy: RatePolicy, *, prune_above: int = 10_000) -> None:
        self.policy = policy
        self._tat_ms: dict[Hashable, int] = {}
        self._prune_above = prune_above
        self._next_prune_at = prune_above

    def take(self, key: Hashable, now_ms: int) -> RateDecision:
        decision, tat_ms = decide(self._tat_ms.get(key, now_ms), now_ms, self.policy)
        self._tat_ms[key] = tat_ms
        if len(self._tat_ms) > self._next_prune_at:
            self._prune(now_ms)
            # Amortised: with many active keys, prune again only once the table has doubled.
            self._next_prune_at = max(self._prune_above, 2 * len(self._tat_ms))
        return decision

    def _prune(self, now_ms: int) -> None:
        self._tat_ms = {key: tat for key, tat in self._tat_ms.items() if tat > now_ms}

    def __len__(self) -> int:
        return len(self._tat_ms)
