"""Pure breakout planning: who goes to which breakout room, by hand, by team, or in groups of N."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from signalling.errors import ErrorCode, VenueError
from signalling.ids import BREAKOUT_SEPARATOR, ParticipantId, SpaceId, TeamId


def breakout_room_id(origin: SpaceId, index: int) -> SpaceId:
    return SpaceId(f"{origin}{BREAKOUT_SEPARATOR}{index}")


def split_into_groups(participants: Sequence[ParticipantId], group_size: int) -> list[list[ParticipantId]]:
    """``ceil(n / group_size)`` groups, dealt round-robin so sizes differ by at most one."""
    if group_size < 1:
        raise ValueError("group_size must be at least 1")
    if not participants:
        return []
    room_count = -(-len(participants) // group_size)
    groups: list[list[ParticipantId]] = [[] for _ in range(room_count)]
    for index, participant_id in enumerate(participants):
        groups[index % room_count].append(participant_id)
    return groups


def check_manual_groups(
    groups: Sequence[Sequence[ParticipantId]], eligible: frozenset[ParticipantId]
) -> VenueError | None:
    """Manual plans must name each eligible participant at most once and nobody else."""
    seen: set[ParticipantId] = set()
    if not groups:
        return VenueError(ErrorCode.INVALID_BREAKOUT_PLAN, "a manual plan needs at least one group")
    for group in groups:
        for participant_id in group:
            if participant_id not in eligible:
                return VenueError(
                    ErrorCode.INVALID_BREAKOUT_PLAN, f"{participant_id} is not an attendee of this space"
                )
            if participant_id in seen:
                return VenueError(ErrorCode.INVALID_BREAKOUT_PLAN, f"{participant_id} is listed twice")
            seen.add(participant_id)
    return None


def assign_by_team(
    participants: Sequence[ParticipantId],
    teams_of: Mapping[ParticipantId, frozenset[TeamId]],
    team_room_of: Mapping[TeamId, SpaceId],
) -> dict[ParticipantId, SpaceId]:
    """Each participant goes to the room of their first team (in id order) that has one; others stay."""
    assignment: dict[ParticipantId, SpaceId] = {}
    for participant_id in participants:
        for team_id in sorted(teams_of.get(participant_id, frozenset())):
            room = team_room_of.get(team_id)
            if room is not None:
                assignment[participant_id] = room
                break
    return assignment


@dataclass(slots=True)
class BreakoutSession:
    """Open breakouts of one origin space."""

    origin: SpaceId
    room_ids: tuple[SpaceId, ...]
    temporary_room_ids: frozenset[SpaceId]
    assigned: dict[ParticipantId, SpaceId]
