"""Typed identifiers used across the chat package, and the one rule for what an id may contain."""

from __future__ import annotations

import re
from typing import Final, NewType

EventId = NewType("EventId", str)
ParticipantId = NewType("ParticipantId", str)
SpaceId = NewType("SpaceId", str)
TeamId = NewType("TeamId", str)
MessageId = NewType("MessageId", str)
"""A Redis stream entry id, ``<ms>-<seq>``: the message id and its server timestamp in one."""
RecipientId = NewType("RecipientId", str)
"""Opaque handle of one connected client, chosen by the transport (a Socket.IO sid, say)."""
InstanceId = NewType("InstanceId", str)

# Ids become parts of Redis keys and of channel names (``dm:<a>:<b>``), so they may not contain
# ``:``, braces (hash tags) or whitespace.
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_.@-]{1,128}")


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
