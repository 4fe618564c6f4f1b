"""The enumerated vocabularies shared by the wire protocol and the venue state machine."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A participant's event-wide role, from the join token's ``role`` claim."""

    ORGANISER = "organiser"
    SPEAKER = "speaker"
    ATTENDEE = "attendee"


class SpaceKind(StrEnum):
    LOBBY = "lobby"
    STAGE = "stage"
    ROOM = "room"
    TEAM_ROOM = "team_room"
    BREAKOUT = "breakout"


class StageRole(StrEnum):
    """Where an occupant of a stage stands; ``none`` outside stages."""

    NONE = "none"
    AUDIENCE = "audience"
    BACKSTAGE = "backstage"
    LIVE = "live"


class MediaKind(StrEnum):
    CAMERA = "camera"
    MICROPHONE = "microphone"
    SCREEN = "screen"


class ReactionKind(StrEnum):
    CLAP = "clap"
    HEART = "heart"
    LAUGH = "laugh"
    TADA = "tada"
    THUMBS_UP = "thumbs_up"
    WOW = "wow"


class BreakoutMode(StrEnum):
    MANUAL = "manual"
    BY_TEAM = "by_team"
    GROUPS = "groups"


class LeaveReason(StrEnum):
    """Why a participant left a space (or the event); sent to clients with presence changes."""

    LEFT = "left"
    MOVED = "moved"
    DISCONNECTED = "disconnected"
    REMOVED = "removed"
    SPACE_ENDED = "space_ended"
    EVENT_ENDED = "event_ended"
    BREAKOUT = "breakout"
    BREAKOUT_CLOSED = "breakout_closed"
