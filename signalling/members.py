"""Who a participant is inside one event: the identity the runtime builds from verified join-token claims."""

from __future__ import annotations

from dataclasses import dataclass

from signalling.ids import EventId, ParticipantId, SpaceId, TeamId
from signalling.kinds import Role

ALL_SPACES = "*"
"""The ``spaces`` claim value granting every space the member's role and teams allow."""


@dataclass(frozen=True, slots=True)
class Member:
    """A verified participant of one event (claims sub, evt, name, role, teams, spaces)."""

    participant_id: ParticipantId
    event_id: EventId
    display_name: str
    role: Role
    teams: frozenset[TeamId] = frozenset()
    spaces: frozenset[str] = frozenset({ALL_SPACES})
    profiling: bool = True
    """False when the participant declined analytics: their analytics events say ``profiling=0``."""

    @property
    def is_organiser(self) -> bool:
        return self.role is Role.ORGANISER

    def may_name_space(self, space_id: SpaceId) -> bool:
        """Whether the token's ``spaces`` claim lists this space (or every space)."""
        return ALL_SPACES in self.spaces or space_id in self.spaces
