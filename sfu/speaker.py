"""Active-speaker detection for one space, from the audio-level extension of forwarded audio.

Every audio packet carries its level in -dBov (0 loudest, 127 silence). Per speaker the detector
keeps the samples of the last ``window_s`` seconds; a sample louder than ``threshold`` (-dBov at or
below it) counts with a weight that grows with loudness. A speaker's score is the sum of weights
over the window divided by the expected number of samples (``window_s * packets_per_s``), so a
speaker who spoke through the whole window scores more than one who coughed once.

The active speaker changes when someone else's score is at least ``min_score`` and beats the
current speaker's by ``switch_ratio`` (and no change happened within the last ``min_hold_s``
seconds). When everybody is silent the last active speaker stays active; a speaker who leaves
is cleared at once.

Pure: no I/O; the caller passes the time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

DEFAULT_WINDOW_S: Final = 1.0
DEFAULT_THRESHOLD: Final = 50  # -dBov; quieter samples do not count
DEFAULT_PACKETS_PER_S: Final = 50  # 20 ms audio frames
DEFAULT_MIN_SCORE: Final = 0.1
DEFAULT_SWITCH_RATIO: Final = 1.5
DEFAULT_MIN_HOLD_S: Final = 0.5


@dataclass(frozen=True, slots=True)
class SpeakerChange:
    previous: str | None
    current: str | None


class ActiveSpeakerDetector:
    def __init__(
        self,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        threshold: int = DEFAULT_THRESHOLD,
        packets_per_s: int = DEFAULT_PACKETS_PER_S,
        min_score: float = DEFAULT_MIN_SCORE,
        switch_ratio: float = DEFAULT_SWITCH_RATIO,
        min_hold_s: float = DEFAULT_MIN_HOLD_S,
    ) -> None:
        self._window_s = window_s
        self._threshold = threshold
        self._expected = max(1.0, window_s * packets_per_s)
        self._min_score = min_score
        self._switch_ratio = switch_ratio
        self._min_hold_s = min_hold_s
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._current: str | None = None
        self._last_change: float | None = None

    @property
    def current(self) -> str | None:
        return self._current

    def observe(self, speaker: str, level: int, now: float) -> None:
        """One audio packet of ``speaker`` with ``level`` -dBov arrived at ``now``."""
        level = max(0, min(127, level))
        weight = 0.0
        if level <= self._threshold:
            weight = (self._threshold - level + 1) / (self._threshold + 1)
        samples = self._samples.setdefault(speaker, deque())
        samples.append((now, weight))
        self._expire(samples, now)

    def _expire(self, samples: deque[tuple[float, float]], now: float) -> None:
        while samples and now - samples[0][0] > self._window_s:
            samples.popleft()

    def score(self, speaker: str, now: float) -> float:
        samples = self._samples.get(speaker)
        if not samples:
            return 0.0
        self._expire(samples, now)
        return sum(weight for _, weight in samples) / self._expected

    def remove(self, speaker: str) -> SpeakerChange | None:
        """``speaker`` stopped publishing audio (or left)."""
        self._samples.pop(speaker, None)
        if self._current == speaker:
            self._current = None
            return SpeakerChange(previous=speaker, current=None)
        return None

    def update(self, now: float) -> SpeakerChange | None:
        """Re-evaluate at ``now``; returns the change, if any."""
        if self._last_change is not None and now - self._last_change < self._min_hold_s:
            return None
        scores = {speaker: self.score(speaker, now) for speaker in self._samples}
        if not scores:
            return None
        best = max(scores, key=lambda s: (scores[s], s == self._current))
        best_score = scores[best]
        if best == self._current or best_score < self._min_score:
            return None
        current_score = scores.get(self._current, 0.0) if self._current is not None else 0.0
        if current_score >= self._min_score and best_score < current_score * self._switch_ratio:
            return None
        change = SpeakerChange(previous=self._current, current=best)
        self._current = best
        self._last_change = now
        return change
