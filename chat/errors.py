"""The one error type that reaches a chat client: a stable ``code`` and a human ``message``.

Codes (documented in docs/chat-design.md):

- ``malformed``: the request is not shaped as documented (wrong types, missing fields).
- ``invalid_channel``: the channel name cannot be parsed or names an impossible channel.
- ``channel_not_found``: the channel does not exist for this caller (team chats of other teams).
- ``forbidden``: the caller may see the channel but not do this.
- ``empty_message``, ``message_too_long``, ``invalid_characters``, ``not_text``: content checks.
- ``rate_limited``: too many sends; ``retry_after_ms`` says when the next one is accepted.
- ``muted``: the caller is muted in the channel (``retry_after_ms`` set when the mute ends).
- ``channel_locked``: the channel is read-only.
- ``bad_message_id``: not a message id; ``unknown_message_id``: not a message of this channel.
- ``unavailable``: the chat store cannot be reached; retry later.
"""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "malformed",
    "invalid_channel",
    "channel_not_found",
    "forbidden",
    "empty_message",
    "message_too_long",
    "invalid_characters",
    "not_text",
    "rate_limited",
    "muted",
    "channel_locked",
    "bad_message_id",
    "unknown_message_id",
    "unavailable",
]


class ChatError(Exception):
    """A refused chat request. Nothing was stored when this is raised."""

    def __init__(self, code: ErrorCode, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(code, message)
        self.code: ErrorCode = code
        self.message = message
        self.retry_after_ms = retry_after_ms

    def __repr__(self) -> str:
        return f"ChatError({self.code!r}, {self.message!r}, retry_after_ms={self.retry_after_ms!r})"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_wire(self) -> dict[str, object]:
        wire: dict[str, object] = {"code": self.code, "message": self.message}
        if self.retry_after_ms is not None:
            wire["retry_after_ms"] = self.retry_after_ms
        return wire
