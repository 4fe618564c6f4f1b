"""Typed identifiers of the control API and the one way new ones are made."""

from __future__ import annotations

import os
import re
from typing import Final, NewType

OrgId = NewType("OrgId", str)
UserId = NewType("UserId", str)
ApiKeyId = NewType("ApiKeyId", str)
EventId = NewType("EventId", str)
SpaceId = NewType("SpaceId", str)
TeamId = NewType("TeamId", str)
SessionId = NewType("SessionId", str)
TicketTypeId = NewType("TicketTypeId", str)
OrderId = NewType("OrderId", str)
TicketId = NewType("TicketId", str)
InviteCode = NewType("InviteCode", str)
ParticipantId = NewType("ParticipantId", str)

ID_PATTERN: Final = r"^[a-z]{2,4}_[A-Za-z0-9]{16}$"
_ID_RE: Final = re.compile(ID_PATTERN)
_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


_ID_SPACE: Final = 62**16
_DRAW_BYTES: Final = 12  # 96 bits, of which ids use the first 62**16 values (about 60 %)
_BATCH_DRAWS: Final = 256


class _RandomDraws:
    """96-bit numbers from the OS's random source, read 256 at a time (one system call per
    batch instead of per id; the bytes are the same CSPRNG output either way). Numbers at or
    above :data:`_ID_SPACE` are dropped, so every id is uniformly distributed."""

    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0
        self._pid = os.getpid()

    def below_id_space(self) -> int:
        while True:
            if self._offset >= len(self._buffer) or self._pid != os.getpid():
                # refill; after a fork the child must not reuse the parent's bytes
                self._buffer = os.urandom(_DRAW_BYTES * _BATCH_DRAWS)
                self._offset = 0
                self._pid = os.getpid()
            start = self._offset
            self._offset = start + _DRAW_BYTES
            n = int.from_bytes(self._buffer[start : start + _DRAW_BYTES], "big")
            if n < _ID_SPACE:
                return n


_DRAWS: Final = _RandomDraws()


def new_id(prefix: str) -> str:
    """A random id such as ``evt_4fQ...``: prefix, underscore, 16 base62 characters (95 bits).

    One draw from the OS's random source per id (not one per character: ids are made several
    times per order, on the hot path), read in batches.
    """
    n = _DRAWS.below_id_space()
    digits = []
    for _ in range(16):
        n, digit = divmod(n, 62)
        digits.append(_ALPHABET[digit])
    return prefix + "_" + "".join(digits)


def looks_like_id(value: str) -> bool:
    """True when ``value`` has the shape of an id made by :func:`new_id` (safe inside Redis keys)."""
    return _ID_RE.fullmatch(value) is not None
