"""Content and id checks: what a message text and a message id must look like to be accepted.

Text is plain text: a ``str``, at most ``max_chars`` code points and ``max_bytes`` UTF-8 bytes,
non-empty after stripping surrounding whitespace (the stripped text is what is stored), with no
control characters other than newline and tab and no lone surrogates (which cannot be encoded).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from chat.errors import ChatError
from chat.ids import MessageId

ALLOWED_CONTROLS: Final = frozenset("\n\t")
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs"})
_MESSAGE_ID: Final = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_U64_MAX: Final = 2**64 - 1


@dataclass(frozen=True, slots=True)
class TextLimits:
    max_chars: int = 2000
    max_bytes: int = 8000


def validate_text(raw: object, limits: TextLimits) -> str:
    """The text to store for ``raw``, or :class:`ChatError`."""
    if not isinstance(raw, str):
        raise ChatError("not_text", "a message text is a string")
    if len(raw) > limits.max_chars:
        raise ChatError("message_too_long", f"a message has at most {limits.max_chars} characters")
    for char in raw:
        if char not in ALLOWED_CONTROLS and unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ChatError(
                "invalid_characters",
                f"control character U+{ord(char):04X} is not allowed (only newline and tab are)",
            )
    text = raw.strip()
    if not text:
        raise ChatError("empty_message", "a message needs some text")
    if len(text.encode("utf-8")) > limits.max_bytes:
        raise ChatError("message_too_long", f"a message has at most {limits.max_bytes} bytes of UTF-8")
    return text


def parse_message_id(raw: object) -> MessageId:
    """``raw`` as a message id (``<ms>-<seq>``), or ``ChatError(bad_message_id)``."""
    if isinstance(raw, str):
        match = _MESSAGE_ID.fullmatch(raw)
        if match is not None and max(int(match[1]), int(match[2])) <= _U64_MAX:
            return MessageId(f"{int(match[1])}-{int(match[2])}")
    raise ChatError("bad_message_id", "a message id looks like 1700000000000-0")


def id_key(message_id: MessageId) -> tuple[int, int]:
    """Sort key of a well-formed message id: stream ids order by (ms, seq)."""
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq)


def id_ms(message_id: MessageId) -> int:
    """The server time (Unix ms) at which the message was stored."""
    return int(message_id.partition("-")[0])
