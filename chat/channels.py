"""Channel names: parsing the wire form (``event``, ``space:<id>``, ``team:<id>``, ``dm:<a>:<b>``).

A channel always lives in the caller's event (from their grants), never in one named by the
client. Direct-message names are canonical: the two participant ids sorted, so both sides name
the same channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chat.errors import ChatError
from chat.ids import EventId, ParticipantId, is_valid_id

MAX_CHANNEL_NAME_CHARS = 300


class ChannelKind(StrEnum):
    EVENT = "event"
    SPACE = "space"
    TEAM = "team"
    DM = "dm"


@dataclass(frozen=True, slots=True)
class Channel:
    """One chat channel of one event. ``name`` is its canonical wire name."""

    event_id: EventId
    kind: ChannelKind
    name: str
    target: str = ""
    """The space id or team id; empty for the event channel; unused for direct messages."""
    members: tuple[ParticipantId, ...] = ()
    """The two participants of a direct-message channel, sorted; empty otherwise."""


def event_channel(event_id: EventId) -> Channel:
    return Channel(event_id, ChannelKind.EVENT, "event")


def space_channel(event_id: EventId, space_id: str) -> Channel:
    return parse_channel(event_id, f"space:{space_id}")


def team_channel(event_id: EventId, team_id: str) -> Channel:
    return parse_channel(event_id, f"team:{team_id}")


def dm_channel(event_id: EventId, a: ParticipantId, b: ParticipantId) -> Channel:
    first, second = sorted((a, b))
    return parse_channel(event_id, f"dm:{first}:{second}")


def parse_channel(event_id: EventId, raw: object) -> Channel:
    """The channel named ``raw`` in ``event_id``, or ``ChatError(invalid_channel)``."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_CHANNEL_NAME_CHARS:
        raise ChatError("invalid_channel", "a channel name is a non-empty string")
    if not is_valid_id(event_id):
        raise ChatError("invalid_channel", "the event id is not valid")
    kind_text, _, rest = raw.partition(":")
    if kind_text == ChannelKind.EVENT and raw == "event":
        return event_channel(event_id)
    if kind_text in (ChannelKind.SPACE, ChannelKind.TEAM) and is_valid_id(rest):
        return Channel(event_id, ChannelKind(kind_text), raw, target=rest)
    if kind_text == ChannelKind.DM:
        first, _, second = rest.partition(":")
        if is_valid_id(first) and is_valid_id(second):
            if first == second:
                raise ChatError("invalid_channel", "a direct-message channel needs two participants")
            if first > second:
                raise ChatError("invalid_channel", f"direct-message channel is named dm:{second}:{first}")
            return Channel(
                event_id, ChannelKind.DM, raw, members=(ParticipantId(first), ParticipantId(second))
            )
    raise ChatError("invalid_channel", "expected event, space:<id>, team:<id> or dm:<id>:<id>")
