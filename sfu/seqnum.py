"""Wraparound-safe arithmetic on RTP sequence numbers (16 bits) and timestamps (32 bits).

RTP counters wrap: sequence number 65535 is followed by 0. Comparisons use the serial-number
rule (RFC 1982): ``a`` is after ``b`` when the forward distance from ``b`` to ``a`` is less than
half the space. :class:`Unwrapper` turns a wrapping counter into an unbounded integer so the
rest of the SFU can use ordinary ``<`` and ``-``.
"""

from __future__ import annotations

from typing import Final

SEQ_BITS: Final = 16
TS_BITS: Final = 32
SEQ_MOD: Final = 1 << SEQ_BITS
TS_MOD: Final = 1 << TS_BITS
SEQ_MASK: Final = SEQ_MOD - 1
TS_MASK: Final = TS_MOD - 1


def _diff(a: int, b: int, bits: int) -> int:
    """Signed shortest distance ``a - b`` on a ring of ``2**bits``, in ``[-2**(bits-1), 2**(bits-1))``."""
    half = 1 << (bits - 1)
    return ((a - b + half) & ((1 << bits) - 1)) - half


def seq_add(seq: int, delta: int) -> int:
    return (seq + delta) & SEQ_MASK


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` between two sequence numbers (positive when ``a`` is newer)."""
    return _diff(a, b, SEQ_BITS)


def seq_gt(a: int, b: int) -> bool:
    """``a`` is newer than ``b``."""
    return seq_diff(a, b) > 0


def ts_add(ts: int, delta: int) -> int:
    return (ts + delta) & TS_MASK


def ts_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` between two RTP timestamps (positive when ``a`` is later)."""
    return _diff(a, b, TS_BITS)


def ts_gt(a: int, b: int) -> bool:
    return ts_diff(a, b) > 0


class Unwrapper:
    """Extends a wrapping counter of ``bits`` bits to an unbounded integer.

    The first value maps to itself. Each later value maps to the extended value nearest to the
    highest one seen so far, so reordered (older) values map below it and may go negative.
    """

    __slots__ = ("_bits", "_highest")

    def __init__(self, bits: int) -> None:
        self._bits = bits
        self._highest: int | None = None

    @property
    def highest(self) -> int | None:
        """The highest extended value returned so far."""
        return self._highest

    def unwrap(self, value: int) -> int:
        mask = (1 << self._bits) - 1
        value &= mask
        if self._highest is None:
            self._highest = value
            return value
        extended = self._highest + _diff(value, self._highest & mask, self._bits)
        self._highest = max(extended, self._highest)
        return extended

    def peek(self, value: int) -> int:
        """What :meth:`unwrap` would return, without recording ``value``."""
        mask = (1 << self._bits) - 1
        if self._highest is None:
            return value & mask
        return self._highest + _diff(value & mask, self._highest & mask, self._bits)
