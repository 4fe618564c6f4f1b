"""The model of one venue space: its fixed configuration and its live occupants."""

from __future__ import annotations

from dataclasses import dataclass, field

from signalling.ids import BREAKOUT_SEPARATOR, LOBBY, ParticipantId, SpaceId, TeamId
from signalling.kinds import MediaKind, SpaceKind, StageRole


@dataclass(frozen=True, slots=True)
class SpaceConfig:
    """A space as the organiser built it. ``capacity`` is ``None`` only for the lobby."""

    space_id: SpaceId
    kind: SpaceKind
    capacity: int | None
    title: str = ""
    team_id: TeamId | None = None
    """The owning hackathon team, for team rooms only."""

    def __post_init__(self) -> None:
        if self.kind is SpaceKind.TEAM_ROOM and self.team_id is None:
            raise ValueError(f"team room {self.space_id!r} needs a team_id")
        if self.kind is not SpaceKind.TEAM_ROOM and self.team_id is not None:
            raise ValueError(f"only team rooms have a team_id ({self.space_id!r})")
        if self.kind is SpaceKind.LOBBY:
            if self.space_id != LOBBY:
                raise ValueError("the lobby's id is always 'lobby'")
        elif self.capacity is None or self.capacity < 1:
            raise ValueError(f"space {self.space_id!r} needs a capacity of at least 1")
        if self.kind is not SpaceKind.BREAKOUT and BREAKOUT_SEPARATOR in self.space_id:
            raise ValueError(f"space ids may not contain {BREAKOUT_SEPARATOR!r}: {self.space_id!r}")


@dataclass(slots=True)
class Occupant:
    """One participant's live state inside the space they are in."""

    participant_id: ParticipantId
    joined_at_ms: int
    stage_role: StageRole = StageRole.NONE
    published: set[MediaKind] = field(default_factory=set)
    muted: set[MediaKind] = field(default_factory=set)
    hand_raised_at_ms: int | None = None


@dataclass(slots=True)
class SpaceState:
    """A space's live state. ``occupants`` keeps arrival order."""

    config: SpaceConfig
    occupants: dict[ParticipantId, Occupant] = field(default_factory=dict)
    locked: bool = False
    ended: bool = False
    spotlight: ParticipantId | None = None
    active_speaker: ParticipantId | None = None
    allowed: frozenset[ParticipantId] | None = None
    """For breakout rooms: the participants assigned to it (organisers may always enter)."""
    breakout_origin: SpaceId | None = None
    kept_over_capacity: int = 0
    """The count when the organiser lowered the capacity below it: those inside stay (nobody is
    pushed out), and nobody else enters until the count is below the new capacity."""

    @property
    def space_id(self) -> SpaceId:
        return self.config.space_id

    @property
    def kind(self) -> SpaceKind:
        return self.config.kind

    @property
    def count(self) -> int:
        return len(self.occupants)

    @property
    def is_full(self) -> bool:
        capacity = self.config.capacity
        return capacity is not None and len(self.occupants) >= capacity
