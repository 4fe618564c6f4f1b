"""Server-to-client event names of the client-facing effects, and their JSON-ready payloads."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any, Final, cast

from signalling.effects import (
    ActiveSpeakerChanged,
    BreakoutBroadcast,
    BreakoutsClosed,
    BreakoutsOpened,
    Effect,
    ErrorReply,
    EventEnded,
    ParticipantRemoved,
    PermissionsChanged,
    PresenceJoined,
    PresenceLeft,
    PresenceUpdated,
    ReactionBurst,
    SpaceCountChanged,
    SpaceEnded,
    SpaceLockChanged,
    SpaceSnapshot,
    SpotlightChanged,
    VenueChanged,
    Welcome,
)

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]

SERVER_EVENTS: Final[Mapping[type[Any], str]] = {
    ErrorReply: "error",
    Welcome: "welcome",
    SpaceSnapshot: "space_snapshot",
    PermissionsChanged: "permissions",
    ParticipantRemoved: "removed",
    PresenceJoined: "presence_joined",
    PresenceLeft: "presence_left",
    PresenceUpdated: "presence_updated",
    ActiveSpeakerChanged: "active_speaker",
    SpotlightChanged: "spotlight",
    SpaceLockChanged: "space_lock",
    SpaceEnded: "space_ended",
    ReactionBurst: "reactions",
    BreakoutBroadcast: "breakout_broadcast",
    SpaceCountChanged: "space_count",
    BreakoutsOpened: "breakouts_opened",
    BreakoutsClosed: "breakouts_closed",
    VenueChanged: "venue",
    EventEnded: "event_ended",
}
"""Effects a client receives, by the Socket.IO event name they are emitted under. Media and
analytics effects are for the runtime only and have no entry."""

_NOT_SENT: Final = frozenset({"connection_id", "connection_ids"})


def to_json(value: object) -> JsonValue:
    """Plain JSON for a value object: dataclasses become objects, enums their value, sets sorted lists."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return cast(JsonValue, value.value)
    if isinstance(value, str):
        return value
    if isinstance(value, frozenset | set):
        return [to_json(item) for item in sorted(value)]
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"no JSON form for {type(value).__name__}")


def client_message(effect: Effect) -> tuple[str, dict[str, JsonValue]] | None:
    """The ``(event name, payload)`` a client receives for ``effect``, or ``None`` for runtime-only effects.

    Addressing fields (connection ids) stay with the runtime and are not sent.
    """
    name = SERVER_EVENTS.get(type(effect))
    if name is None:
        return None
    payload = to_json(effect)
    assert isinstance(payload, dict)
    return name, {key: item for key, item in payload.items() if key not in _NOT_SENT}
