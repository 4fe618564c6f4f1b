"""Effects: what the venue state machine asks the runtime to do (emit to sockets, call the SFU, log).

Addressing is part of each effect's type: ``connection_id`` means that one socket, ``participant_id``
means every connection of that participant, ``space_id`` means every occupant of the space, and the
event-wide effects go to every connection of the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from signalling.errors import ErrorCode
from signalling.ids import ConnectionId, ParticipantId, SpaceId, TeamId
from signalling.kinds import BreakoutMode, LeaveReason, MediaKind, ReactionKind, Role, SpaceKind, StageRole


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """What others see of one occupant of a space."""

    participant_id: ParticipantId
    display_name: str
    role: Role
    stage_role: StageRole
    published: frozenset[MediaKind]
    muted: frozenset[MediaKind]
    hand_raised: bool
    connected: bool


# --- to one connection --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A structured error for the one client whose event was refused; the venue state did not change."""

    connection_id: ConnectionId
    code: ErrorCode
    message: str
    event_name: str | None = None


@dataclass(frozen=True, slots=True)
class SpaceSummary:
    """One space of the venue map (``Venue.venue_map``): enough to draw it and its live count."""

    space_id: SpaceId
    kind: SpaceKind
    title: str
    capacity: int | None
    count: int
    locked: bool
    ended: bool
    team_id: TeamId | None
    breakout_origin: SpaceId | None


@dataclass(frozen=True, slots=True)
class Welcome:
    """A connection was admitted; ``resumed`` when its participant was already present (tab or reconnect)."""

    connection_id: ConnectionId
    participant_id: ParticipantId
    space_id: SpaceId
    resumed: bool
    spaces: tuple[SpaceSummary, ...] = ()
    """The venue map: every space with its live count, so a client can draw the lobby at once."""


# --- to one participant (all their connections) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpaceSnapshot:
    """The full state of the space the participant is now in (lobby snapshots list no occupants)."""

    participant_id: ParticipantId
    space_id: SpaceId
    kind: SpaceKind
    reason: LeaveReason | None
    occupants: tuple[PresenceEntry, ...]
    locked: bool
    spotlight: ParticipantId | None
    active_speaker: ParticipantId | None
    may_publish: frozenset[MediaKind]


@dataclass(frozen=True, slots=True)
class PermissionsChanged:
    participant_id: ParticipantId
    space_id: SpaceId
    may_publish: frozenset[MediaKind]


@dataclass(frozen=True, slots=True)
class ParticipantRemoved:
    """Tell the participant why, then close these connections; they may not come back to this event."""

    participant_id: ParticipantId
    connection_ids: tuple[ConnectionId, ...]
    reason: str


# --- to every occupant of a space -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PresenceJoined:
    space_id: SpaceId
    entry: PresenceEntry


@dataclass(frozen=True, slots=True)
class PresenceLeft:
    space_id: SpaceId
    participant_id: ParticipantId
    reason: LeaveReason


@dataclass(frozen=True, slots=True)
class PresenceUpdated:
    """An occupant's stage role, media, hand or connection state changed."""

    space_id: SpaceId
    entry: PresenceEntry


@dataclass(frozen=True, slots=True)
class ActiveSpeakerChanged:
    space_id: SpaceId
    participant_id: ParticipantId | None


@dataclass(frozen=True, slots=True)
class SpotlightChanged:
    space_id: SpaceId
    participant_id: ParticipantId | None


@dataclass(frozen=True, slots=True)
class SpaceLockChanged:
    space_id: SpaceId
    locked: bool


@dataclass(frozen=True, slots=True)
class SpaceEnded:
    """Sent to the space's occupants just before they are moved to the lobby."""

    space_id: SpaceId
    reason: str


@dataclass(frozen=True, slots=True)
class ReactionBurst:
    """Reactions aggregated over one window, broadcast once instead of one emit per reaction."""

    space_id: SpaceId
    counts: tuple[tuple[ReactionKind, int], ...]
    window_end_ms: int


@dataclass(frozen=True, slots=True)
class BreakoutBroadcast:
    """An organiser's message to every breakout room of ``origin_space_id``."""

    origin_space_id: SpaceId
    room_ids: tuple[SpaceId, ...]
    sender_id: ParticipantId
    text: str


# --- to the whole event -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpaceCountChanged:
    """Live participant count of one space (the lobby included), for the venue map."""

    space_id: SpaceId
    count: int


@dataclass(frozen=True, slots=True)
class BreakoutRoom:
    space_id: SpaceId
    participant_ids: tuple[ParticipantId, ...]


@dataclass(frozen=True, slots=True)
class BreakoutsOpened:
    origin_space_id: SpaceId
    mode: BreakoutMode
    rooms: tuple[BreakoutRoom, ...]


@dataclass(frozen=True, slots=True)
class BreakoutsClosed:
    origin_space_id: SpaceId
    room_ids: tuple[SpaceId, ...]


@dataclass(frozen=True, slots=True)
class VenueChanged:
    """The organiser added, changed or removed spaces: the whole new venue map."""

    spaces: tuple[SpaceSummary, ...]


@dataclass(frozen=True, slots=True)
class EventEnded:
    """The event is over: every connection is told why and then closed."""

    reason: str


# --- to the SFU (the runtime turns these into media-node calls) ------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaSubscribe:
    """Forward the space's published tracks to the participant's connections (idempotent)."""

    participant_id: ParticipantId
    space_id: SpaceId


@dataclass(frozen=True, slots=True)
class MediaUnsubscribe:
    participant_id: ParticipantId
    space_id: SpaceId


@dataclass(frozen=True, slots=True)
class MediaAllowPublish:
    """The participant may now send this track into the space."""

    participant_id: ParticipantId
    space_id: SpaceId
    kind: MediaKind


@dataclass(frozen=True, slots=True)
class MediaUnpublish:
    """Stop accepting and forwarding this track of the participant."""

    participant_id: ParticipantId
    space_id: SpaceId
    kind: MediaKind


@dataclass(frozen=True, slots=True)
class MediaSetMuted:
    participant_id: ParticipantId
    space_id: SpaceId
    kind: MediaKind
    muted: bool


@dataclass(frozen=True, slots=True)
class MediaClosePeer:
    """Tear down every peer connection of the participant."""

    participant_id: ParticipantId


# --- analytics ----------------------------------------------------------------------------------------


class AnalyticsKind(StrEnum):
    ARRIVE = "arrive"
    DEPART = "depart"
    DISCONNECT = "disconnect"
    RECONNECT = "reconnect"
    JOIN = "join"
    LEAVE = "leave"
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"
    MUTE = "mute"
    UNMUTE = "unmute"
    HAND_RAISED = "hand_raised"
    HAND_LOWERED = "hand_lowered"
    REACTION = "reaction"
    PROMOTE = "promote"
    DEMOTE = "demote"
    GO_LIVE = "go_live"
    BACKSTAGE = "backstage"
    SPOTLIGHT = "spotlight"
    LOCK = "lock"
    UNLOCK = "unlock"
    REMOVE = "remove"
    SPACE_ENDED = "space_ended"
    EVENT_ENDED = "event_ended"
    BREAKOUTS_OPENED = "breakouts_opened"
    BREAKOUTS_BROADCAST = "breakouts_broadcast"
    BREAKOUTS_CLOSED = "breakouts_closed"
    VENUE_CHANGED = "venue_changed"


@dataclass(frozen=True, slots=True)
class Analytics:
    """One entry for the event's analytics stream. ``participant_id`` is who it happened to."""

    kind: AnalyticsKind
    at_ms: int
    participant_id: ParticipantId | None = None
    space_id: SpaceId | None = None
    actor_id: ParticipantId | None = None
    detail: tuple[tuple[str, str], ...] = ()


Effect = (
    ErrorReply
    | Welcome
    | SpaceSnapshot
    | PermissionsChanged
    | ParticipantRemoved
    | PresenceJoined
    | PresenceLeft
    | PresenceUpdated
    | ActiveSpeakerChanged
    | SpotlightChanged
    | SpaceLockChanged
    | SpaceEnded
    | ReactionBurst
    | BreakoutBroadcast
    | SpaceCountChanged
    | BreakoutsOpened
    | BreakoutsClosed
    | VenueChanged
    | EventEnded
    | MediaSubscribe
    | MediaUnsubscribe
    | MediaAllowPublish
    | MediaUnpublish
    | MediaSetMuted
    | MediaClosePeer
    | Analytics
)


MediaEffect = (
    MediaSubscribe | MediaUnsubscribe | MediaAllowPublish | MediaUnpublish | MediaSetMuted | MediaClosePeer
)
"""The effects the runtime hands to the media port."""
