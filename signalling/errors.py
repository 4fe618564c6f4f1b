"""Structured errors (``code``, ``message``) that the venue sends to the one client that caused them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    # protocol (payload validation)
    UNKNOWN_EVENT = "unknown_event"
    INVALID_PAYLOAD = "invalid_payload"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    # sessions
    NOT_CONNECTED = "not_connected"
    ALREADY_CONNECTED = "already_connected"
    WRONG_EVENT = "wrong_event"
    REMOVED = "removed"
    EVENT_ENDED = "event_ended"
    # spaces
    UNKNOWN_SPACE = "unknown_space"
    ALREADY_IN_SPACE = "already_in_space"
    NOT_IN_SPACE = "not_in_space"
    SPACE_FULL = "space_full"
    SPACE_LOCKED = "space_locked"
    SPACE_ENDED = "space_ended"
    SPACE_NOT_ALLOWED = "space_not_allowed"
    NOT_TEAM_MEMBER = "not_team_member"
    NOT_ASSIGNED = "not_assigned"
    # permissions and targets
    FORBIDDEN = "forbidden"
    UNKNOWN_PARTICIPANT = "unknown_participant"
    INVALID_TARGET = "invalid_target"
    TARGET_IS_ORGANISER = "target_is_organiser"
    # media
    PUBLISH_NOT_ALLOWED = "publish_not_allowed"
    ALREADY_PUBLISHED = "already_published"
    NOT_PUBLISHED = "not_published"
    # engagement
    RATE_LIMITED = "rate_limited"
    # breakouts
    BREAKOUTS_OPEN = "breakouts_open"
    NO_BREAKOUTS = "no_breakouts"
    INVALID_BREAKOUT_PLAN = "invalid_breakout_plan"


@dataclass(frozen=True, slots=True)
class VenueError:
    """An error a client receives: a stable machine-readable ``code`` and a human ``message``."""

    code: ErrorCode
    message: str
