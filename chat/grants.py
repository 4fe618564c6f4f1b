"""Who is asking: the caller's identity and grants, as chat needs them from a join token.

Signalling adapts verified token claims (docs/join-token.md) to :class:`Grants`; chat never
reads a token itself. The sender shown on a message always comes from here, never from a payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from chat.ids import EventId, ParticipantId, SpaceId, TeamId

ALL_SPACES: Final = SpaceId("*")


class Role(StrEnum):
    ORGANISER = "organiser"
    SPEAKER = "speaker"
    ATTENDEE = "attendee"


@dataclass(frozen=True, slots=True)
class Grants:
    """The caller in one event: ``spaces`` may be ``{"*"}`` for every space of the event."""

    participant_id: ParticipantId
    event_id: EventId
    role: Role
    display_name: str
    teams: frozenset[TeamId] = frozenset()
    spaces: frozenset[SpaceId] = frozenset()

    @property
    def is_organiser(self) -> bool:
        return self.role is Role.ORGANISER

    def may_enter_space(self, space_id: SpaceId) -> bool:
        return self.is_organiser or ALL_SPACES in self.spaces or space_id in self.spaces

    def is_team_member(self, team_id: TeamId) -> bool:
        return team_id in self.teams
