"""Typed identifiers of the control API and the one way new ones are made."""

from __future__ import annotations

import re
import secrets
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


def new_id(prefix: str) -> str:
    """A random id such as ``evt_4fQ...``: prefix, underscore, 16 base62 characters (95 bits).

    One draw from the OS's random source per id (not one per character: ids are made several
    times per order, on the hot path).
    """
    n = secrets.randbelow(_ID_SPACE)
    digits = []
    for _ in range(16):
        n, digit = divmod(n, 62)
        digits.append(_ALPHABET[digit])
    return prefix + "_" + "".join(digits)


def looks_like_id(value: str) -> bool:
    """True when ``value`` has the shape of an id made by :func:`new_id` (safe inside Redis keys)."""
    return _ID_RE.fullmatch(value) is not None
