"""Every error code a participant's browser can receive has a human message in web/static/js/errors.js."""

from __future__ import annotations

import re
from pathlib import Path

from signalling.errors import ErrorCode

ERRORS_JS = Path(__file__).parents[2] / "web" / "static" / "js" / "errors.js"
PROTOCOL = Path(__file__).parents[2] / "docs" / "protocol.md"

# what the media node can refuse a browser's offer or answer with (docs/protocol.md, Media events)
MEDIA_CODES = {
    "not_in_space",
    "publish_not_allowed",
    "malformed_sdp",
    "unsupported_codec",
    "negotiation_failed",
    "too_many_publishers",
    "too_many_tracks",
    "too_many_subscribers",
}
# what the chat service answers (docs/chat-design.md)
CHAT_CODES = {"channel_locked", "channel_not_found", "empty_message", "message_too_long", "rate_limited"}


def _messages() -> set[str]:
    block = ERRORS_JS.read_text().split("const MESSAGES = {", 1)[1].split("\n};", 1)[0]
    return set(re.findall(r"^\s+([A-Za-z_]+):", block, re.MULTILINE))


def _connect_codes() -> set[str]:
    """The codes of the table under "Connecting" in docs/protocol.md."""
    section = PROTOCOL.read_text().split("## Connecting", 1)[1].split("\n## ", 1)[0]
    return {
        code
        for row in section.splitlines()
        if row.startswith("| `")
        for code in re.findall(r"`(\w+)`", row.split("|")[1])
    }


def test_every_venue_error_code_has_a_message() -> None:
    missing = {code.value for code in ErrorCode} - _messages()
    assert not missing, f"add messages to errors.js for {sorted(missing)}"


def test_every_connect_media_and_chat_code_has_a_message() -> None:
    connect = _connect_codes()
    assert {"token_expired", "token_invalid", "venue_unavailable"} <= connect, connect
    missing = (connect | MEDIA_CODES | CHAT_CODES) - _messages()
    assert not missing, f"add messages to errors.js for {sorted(missing)}"
