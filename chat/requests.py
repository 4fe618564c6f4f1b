"""Shapes of the chat requests a client sends: checked here, before any rule or I/O runs.

Each request is a JSON object with exactly the documented keys (docs/chat-design.md); anything
else is ``ChatError("malformed")``. ``bool`` is never accepted where a number is expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chat.errors import ChatError
from chat.ids import MessageId, ParticipantId, is_valid_id
from chat.validation import parse_message_id

MAX_MUTE_MS: Final = 30 * 24 * 3_600_000
MAX_CLIENT_ID_CHARS: Final = 64


def fields(
    payload: object, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, object]:
    if not isinstance(payload, Mapping):
        raise ChatError("malformed", "a chat request is a JSON object")
    got = set(payload)
    if not all(isinstance(key, str) for key in got):
        raise ChatError("malformed", "request keys are strings")
    missing = required - got
    if missing:
        raise ChatError("malformed", f"missing {', '.join(sorted(missing))}")
    unknown = got - required - optional
    if unknown:
        raise ChatError("malformed", f"unknown {', '.join(sorted(unknown))}")
    return dict(payload)


def int_field(value: object, name: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ChatError("malformed", f"{name} is an integer from {low} to {high}")
    return value


def optional_id(value: object) -> MessageId | None:
    return None if value is None else parse_message_id(value)


def optional_client_id(value: object) -> str | None:
    if value is None:
        return None
    if not is_valid_id(value) or len(str(value)) > MAX_CLIENT_ID_CHARS:
        raise ChatError("malformed", f"client_id is up to {MAX_CLIENT_ID_CHARS} letters, digits or _.@-")
    assert isinstance(value, str)
    return value


def participant(value: object) -> ParticipantId:
    if not is_valid_id(value):
        raise ChatError("malformed", "participant is a participant id")
    assert isinstance(value, str)
    return ParticipantId(value)


def bool_field(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ChatError("malformed", f"{name} is true or false")
    return value


@dataclass(frozen=True, slots=True)
class PageLimits:
    default: int = 50
    maximum: int = 200

    def pick(self, value: object) -> int:
        if value is None:
            return self.default
        return int_field(value, "limit", low=1, high=self.maximum)
