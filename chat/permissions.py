"""Who may read, write and moderate which channel: pure rules over :class:`Grants`.

- The event channel: every participant of the event reads and writes.
- A space channel: whoever may enter the space (``spaces`` names it, or is ``["*"]``).
- A team channel: the team's members and organisers. To everyone else it does not exist
  (``channel_not_found``, the same answer as for a team that was never created).
- A direct-message channel: its two participants only; invisible to everyone else, organisers
  included.
- Moderation (delete, mute, lock): organisers, in every channel they can read except direct
  messages.

Lock and mute are runtime state; the store enforces them atomically with the append.
"""

from __future__ import annotations

from enum import StrEnum

from chat.channels import Channel, ChannelKind
from chat.errors import ChatError
from chat.grants import Grants
from chat.ids import SpaceId, TeamId


class Action(StrEnum):
    READ = "read"
    WRITE = "write"
    MODERATE = "moderate"


def _not_found(channel: Channel) -> ChatError:
    return ChatError("channel_not_found", f"no channel {channel.name} for you in this event")


def can_see(grants: Grants, channel: Channel) -> bool:
    """Whether the channel exists for the caller at all."""
    if channel.event_id != grants.event_id:
        return False
    if channel.kind is ChannelKind.TEAM:
        return grants.is_organiser or grants.is_team_member(TeamId(channel.target))
    if channel.kind is ChannelKind.DM:
        return grants.participant_id in channel.members
    return True


def check(grants: Grants, channel: Channel, action: Action) -> None:
    """Return when ``grants`` allow ``action`` on ``channel``; raise :class:`ChatError` otherwise."""
    if not can_see(grants, channel):
        raise _not_found(channel)
    if channel.kind is ChannelKind.SPACE and not grants.may_enter_space(SpaceId(channel.target)):
        raise ChatError("forbidden", f"you may not use the chat of space {channel.target}")
    if action is Action.MODERATE:
        if channel.kind is ChannelKind.DM:
            raise ChatError("forbidden", "direct messages are not moderated")
        if not grants.is_organiser:
            raise ChatError("forbidden", "only organisers moderate chat")


def allowed(grants: Grants, channel: Channel, action: Action) -> bool:
    try:
        check(grants, channel, action)
    except ChatError:
        return False
    return True
