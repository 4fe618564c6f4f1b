"""Reactions: a per-participant rate limit and a per-space aggregator that flushes about once a second.

Pure: every call takes ``now_ms``. Accepted reactions are counted per space and kind; ``flush`` returns
one burst per space whose window (started by its first pending reaction) has elapsed.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from signalling.ids import ParticipantId, SpaceId
from signalling.kinds import ReactionKind


@dataclass(frozen=True, slots=True)
class Burst:
    space_id: SpaceId
    counts: tuple[tuple[ReactionKind, int], ...]
    window_end_ms: int


class ReactionAggregator:
    def __init__(
        self, *, max_per_participant: int = 5, rate_window_ms: int = 1000, flush_interval_ms: int = 1000
    ) -> None:
        if max_per_participant < 1 or rate_window_ms < 1 or flush_interval_ms < 1:
            raise ValueError("reaction limits must be positive")
        self.max_per_participant = max_per_participant
        self.rate_window_ms = rate_window_ms
        self.flush_interval_ms = flush_interval_ms
        self._recent_ms: dict[ParticipantId, deque[int]] = {}
        self._pending: dict[SpaceId, Counter[ReactionKind]] = {}
        self._window_start_ms: dict[SpaceId, int] = {}

    def offer(
        self, participant_id: ParticipantId, space_id: SpaceId, kind: ReactionKind, now_ms: int
    ) -> bool:
        """Count the reaction unless the participant exceeded their rate in the last window."""
        recent = self._recent_ms.setdefault(participant_id, deque())
        while recent and recent[0] <= now_ms - self.rate_window_ms:
            recent.popleft()
        if len(recent) >= self.max_per_participant:
            return False
        recent.append(now_ms)
        self._pending.setdefault(space_id, Counter())[kind] += 1
        self._window_start_ms.setdefault(space_id, now_ms)
        return True

    def flush(self, now_ms: int) -> list[Burst]:
        bursts: list[Burst] = []
        for space_id, start_ms in sorted(self._window_start_ms.items()):
            if now_ms - start_ms < self.flush_interval_ms:
                continue
            counts = self._pending.pop(space_id)
            del self._window_start_ms[space_id]
            bursts.append(Burst(space_id, tuple(sorted(counts.items())), now_ms))
        self._drop_idle_participants(now_ms)
        return bursts

    def discard_space(self, space_id: SpaceId) -> None:
        """Drop pending reactions of a space that ended or closed."""
        self._pending.pop(space_id, None)
        self._window_start_ms.pop(space_id, None)

    def forget_participant(self, participant_id: ParticipantId) -> None:
        self._recent_ms.pop(participant_id, None)

    def pending(self, space_id: SpaceId) -> dict[ReactionKind, int]:
        return dict(self._pending.get(space_id, {}))

    def _drop_idle_participants(self, now_ms: int) -> None:
        idle = [
            pid
            for pid, recent in self._recent_ms.items()
            if not recent or recent[-1] <= now_ms - self.rate_window_ms
        ]
        for pid in idle:
            del self._recent_ms[pid]
