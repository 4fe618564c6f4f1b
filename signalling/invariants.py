"""Consistency checks of a venue's state, used by tests and fuzzing (and cheap enough for debug runs)."""

from __future__ import annotations

from signalling.ids import LOBBY, ParticipantId, SpaceId
from signalling.kinds import MediaKind, Role, SpaceKind, StageRole
from signalling.members import Member
from signalling.spaces import Occupant, SpaceState
from signalling.venue import Venue


def violations(venue: Venue) -> list[str]:
    """Every broken invariant of ``venue``, as readable sentences; empty when all hold."""
    problems: list[str] = []
    seen: dict[ParticipantId, SpaceId] = {}
    for space_id, space in venue.spaces.items():
        problems.extend(_space_problems(space))
        for participant_id, occupant in space.occupants.items():
            if participant_id in seen:
                problems.append(f"{participant_id} is in both {seen[participant_id]} and {space_id}")
            seen[participant_id] = space_id
            problems.extend(_occupant_problems(venue, space, occupant))
    for participant_id in venue.members:
        if participant_id not in seen:
            problems.append(f"member {participant_id} is in no space")
    if venue.ended and (venue.members or any(s.occupants for s in venue.spaces.values())):
        problems.append("the event ended but participants remain")
    if LOBBY not in venue.spaces:
        problems.append("the lobby is missing")
    for origin_id, session in venue.breakouts.items():
        problems.extend(
            f"breakouts of {origin_id} lost room {room_id}"
            for room_id in session.room_ids
            if room_id not in venue.spaces
        )
    return problems


def _space_problems(space: SpaceState) -> list[str]:
    problems: list[str] = []
    space_id = space.space_id
    capacity = space.config.capacity
    if capacity is not None and space.count > max(capacity, space.kept_over_capacity):
        problems.append(f"{space_id} holds {space.count} > capacity {capacity}")
    if space.ended and space.occupants:
        problems.append(f"ended space {space_id} still has occupants")
    if space.active_speaker is not None and space.active_speaker not in space.occupants:
        problems.append(f"{space_id} active speaker {space.active_speaker} is absent")
    if space.spotlight is not None:
        spotlit = space.occupants.get(space.spotlight)
        if spotlit is None:
            problems.append(f"{space_id} spotlights absent {space.spotlight}")
        elif space.kind is SpaceKind.STAGE and spotlit.stage_role is not StageRole.LIVE:
            problems.append(f"{space_id} spotlights someone who is not live")
    return problems


# The two checks below restate the rules independently of signalling.rules, so that a bug there
# is caught instead of being agreed with.


def _entitled(member: Member, space: SpaceState) -> bool:
    if member.role is Role.ORGANISER:
        return True
    if space.kind is SpaceKind.TEAM_ROOM:
        return space.config.team_id in member.teams
    if space.kind is SpaceKind.BREAKOUT:
        return space.allowed is not None and member.participant_id in space.allowed
    return True


def _may_publish(kind: SpaceKind, stage_role: StageRole) -> bool:
    if kind is SpaceKind.STAGE:
        return stage_role is StageRole.LIVE
    return kind in (SpaceKind.ROOM, SpaceKind.TEAM_ROOM, SpaceKind.BREAKOUT)


def _occupant_problems(venue: Venue, space: SpaceState, occupant: Occupant) -> list[str]:
    participant_id = occupant.participant_id
    space_id = space.space_id
    member = venue.members.get(participant_id)
    if member is None:
        return [f"{participant_id} occupies {space_id} without being a member"]
    problems: list[str] = []
    if venue.location_of(participant_id) != space_id:
        problems.append(f"{participant_id} location disagrees with {space_id}")
    if not _entitled(member, space):
        problems.append(f"{participant_id} may not be in {space.kind.value} {space_id}")
    if occupant.published and not _may_publish(space.kind, occupant.stage_role):
        problems.append(f"{participant_id} publishes {sorted(occupant.published)} in {space_id}")
    if not occupant.muted <= occupant.published:
        problems.append(f"{participant_id} has muted tracks it does not publish")
    if occupant.published and not venue.is_online(participant_id):
        problems.append(f"offline {participant_id} still publishes")
    if (space.kind is SpaceKind.STAGE) != (occupant.stage_role is not StageRole.NONE):
        problems.append(f"{participant_id} has stage role {occupant.stage_role.value} in {space_id}")
    if space.kind is SpaceKind.LOBBY and occupant.hand_raised_at_ms is not None:
        problems.append(f"{participant_id} raised a hand in the lobby")
    if space.active_speaker == participant_id and (
        MediaKind.MICROPHONE not in occupant.published or MediaKind.MICROPHONE in occupant.muted
    ):
        problems.append(f"{participant_id} is active speaker without a live microphone")
    return problems
