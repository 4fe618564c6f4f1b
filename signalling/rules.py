"""Pure permission rules: who may enter a space and what an occupant may publish there."""

from __future__ import annotations

from signalling.errors import ErrorCode, VenueError
from signalling.kinds import MediaKind, Role, SpaceKind, StageRole
from signalling.members import Member
from signalling.spaces import SpaceState

ALL_MEDIA: frozenset[MediaKind] = frozenset(MediaKind)
NO_MEDIA: frozenset[MediaKind] = frozenset()


def entry_refusal(member: Member, space: SpaceState) -> VenueError | None:
    """Why ``member`` may not enter ``space`` now, or ``None`` when they may."""
    if space.ended:
        return VenueError(ErrorCode.SPACE_ENDED, f"space {space.space_id} has ended")
    refusal = _kind_refusal(member, space)
    if refusal is not None:
        return refusal
    if space.locked and not member.is_organiser:
        return VenueError(ErrorCode.SPACE_LOCKED, "this space is locked")
    if space.is_full:
        return VenueError(ErrorCode.SPACE_FULL, "this space is full")
    return None


def _kind_refusal(member: Member, space: SpaceState) -> VenueError | None:
    if space.kind is SpaceKind.BREAKOUT:
        if may_stay(member, space):
            return None
        return VenueError(ErrorCode.NOT_ASSIGNED, "you are not assigned to this breakout room")
    if not member.may_name_space(space.space_id):
        return VenueError(ErrorCode.SPACE_NOT_ALLOWED, "your ticket does not include this space")
    if not may_stay(member, space):
        return VenueError(ErrorCode.NOT_TEAM_MEMBER, "only the team and organisers may enter a team room")
    return None


def may_stay(member: Member, space: SpaceState) -> bool:
    """Whether ``member`` is entitled to be in ``space`` at all (kind rules only, not lock or capacity)."""
    if member.is_organiser:
        return True
    if space.kind is SpaceKind.TEAM_ROOM:
        return space.config.team_id in member.teams
    if space.kind is SpaceKind.BREAKOUT:
        return space.allowed is not None and member.participant_id in space.allowed
    return True


def initial_stage_role(kind: SpaceKind, role: Role) -> StageRole:
    """Speakers and organisers enter a stage backstage; attendees join its audience."""
    if kind is not SpaceKind.STAGE:
        return StageRole.NONE
    return StageRole.AUDIENCE if role is Role.ATTENDEE else StageRole.BACKSTAGE


def publishable_media(kind: SpaceKind, stage_role: StageRole) -> frozenset[MediaKind]:
    """What an occupant may publish: everything in rooms, only live speakers on a stage, none in the lobby."""
    if kind in (SpaceKind.ROOM, SpaceKind.TEAM_ROOM, SpaceKind.BREAKOUT):
        return ALL_MEDIA
    if kind is SpaceKind.STAGE and stage_role is StageRole.LIVE:
        return ALL_MEDIA
    return NO_MEDIA
