"""Upstream loss: which packets of a publisher's stream to NACK, and when.

:class:`NackTracker` watches the sequence numbers arriving from a publisher. A gap marks the
missing numbers; each is NACKed at once and again every ``retry_interval_s`` seconds, at most
``max_attempts`` times, and forgotten once it arrives (a retransmission), once it falls more
than ``max_age_pkts`` packets behind the newest (the publisher keeps a history of about 128 packets),
or when more than ``max_missing`` are outstanding (the oldest go first).

Pure: no I/O; the caller passes the time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sfu.seqnum import SEQ_BITS, SEQ_MASK, Unwrapper

DEFAULT_RETRY_INTERVAL_S: Final = 0.05
DEFAULT_MAX_ATTEMPTS: Final = 3
DEFAULT_MAX_AGE: Final = 128
DEFAULT_MAX_MISSING: Final = 256
# A jump this large is a stream restart, not loss: nothing is NACKed for it.
MAX_GAP: Final = 1000


class NackTracker:
    __slots__ = ("_max_age_pkts", "_max_attempts", "_max_missing", "_missing", "_retry_interval_s", "_unwrap")

    def __init__(
        self,
        *,
        retry_interval_s: float = DEFAULT_RETRY_INTERVAL_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_age_pkts: int = DEFAULT_MAX_AGE,
        max_missing: int = DEFAULT_MAX_MISSING,
    ) -> None:
        self._retry_interval_s = retry_interval_s
        self._max_attempts = max_attempts
        self._max_age_pkts = max_age_pkts
        self._max_missing = max_missing
        self._unwrap = Unwrapper(SEQ_BITS)
        # extended sequence number -> (attempts made, time of the last attempt or None)
        self._missing: dict[int, tuple[int, float | None]] = {}

    @property
    def missing(self) -> list[int]:
        """The outstanding missing sequence numbers (16-bit), oldest first."""
        return [ext & SEQ_MASK for ext in sorted(self._missing)]

    def received(self, sequence_number: int) -> None:
        """A packet arrived (fresh or retransmitted)."""
        previous = self._unwrap.highest
        extended = self._unwrap.unwrap(sequence_number)
        if previous is None:
            return
        if extended > previous + 1:
            if extended - previous > MAX_GAP:
                self._missing.clear()
            else:
                for ext in range(previous + 1, extended):
                    self._missing[ext] = (0, None)
        else:
            self._missing.pop(extended, None)
        self._prune()

    def _prune(self) -> None:
        highest = self._unwrap.highest
        if highest is None:
            return
        for ext in [e for e in self._missing if highest - e > self._max_age_pkts]:
            del self._missing[ext]
        if len(self._missing) > self._max_missing:
            for ext in sorted(self._missing)[: len(self._missing) - self._max_missing]:
                del self._missing[ext]

    def due(self, now: float) -> list[int]:
        """The sequence numbers to NACK now (oldest first); counts them as attempted."""
        out: list[int] = []
        for ext in sorted(self._missing):
            attempts, last = self._missing[ext]
            if last is not None and now - last < self._retry_interval_s:
                continue
            attempts += 1
            if attempts >= self._max_attempts:
                del self._missing[ext]
            else:
                self._missing[ext] = (attempts, now)
            out.append(ext & SEQ_MASK)
        return out


def lost_sequence_numbers(lost: Iterable[int]) -> list[int]:
    """Sequence numbers from a parsed NACK, reduced to 16 bits and de-duplicated (order kept).

    aiortc's parser adds the bitmask offset without wrapping (65535 + 1 comes out as 65536).
    """
    seen: dict[int, None] = {}
    for seq in lost:
        seen.setdefault(seq & SEQ_MASK, None)
    return list(seen)
