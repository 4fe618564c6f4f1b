"""The client-to-server Socket.IO events of a venue, their payload schemas, and strict payload validation.

Each event is a frozen dataclass whose fields carry a ``FieldSpec`` in their metadata; ``validate``
turns an untrusted ``(name, data)`` pair into one of these payloads or a ``VenueError``. Unknown events,
unknown or missing fields, wrong JSON types, oversized strings and oversized payloads are all refused.
``describe_events`` renders the same schemas for docs/protocol.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Final, cast

from signalling.errors import ErrorCode, VenueError
from signalling.ids import ParticipantId, SpaceId
from signalling.kinds import BreakoutMode, MediaKind, ReactionKind

MAX_PAYLOAD_BYTES: Final = 8 * 1024
MAX_BREAKOUT_PAYLOAD_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 4
MAX_ID_CHARS: Final = 64
MAX_REASON_CHARS: Final = 200
MAX_BROADCAST_CHARS: Final = 1000
MAX_BREAKOUT_GROUPS: Final = 200
MAX_BREAKOUT_GROUP_SIZE: Final = 200

_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:~-]*", re.ASCII)
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _invalid(field_name: str, why: str) -> VenueError:
    return VenueError(ErrorCode.INVALID_PAYLOAD, f"field {field_name!r}: {why}")


class FieldSpec:
    """How one payload field is checked and converted; ``nullable`` fields also accept JSON null."""

    nullable: bool = False

    def parse(self, field_name: str, value: object) -> object | VenueError:
        if value is None:
            return None if self.nullable else _invalid(field_name, "must not be null")
        return self._parse(field_name, value)

    def _parse(self, field_name: str, value: object) -> object | VenueError:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class IdSpec(FieldSpec):
    nullable: bool = False

    def _parse(self, field_name: str, value: object) -> object | VenueError:
        return _parse_id(field_name, value)

    def describe(self) -> str:
        text = f"id (1-{MAX_ID_CHARS} chars of A-Z a-z 0-9 _ . : ~ -)"
        return text + " or null" if self.nullable else text


@dataclass(frozen=True)
class TextSpec(FieldSpec):
    max_chars: int
    min_chars: int = 0

    def _parse(self, field_name: str, value: object) -> object | VenueError:
        if type(value) is not str:
            return _invalid(field_name, "must be a string")
        if not self.min_chars <= len(value) <= self.max_chars:
            return _invalid(field_name, f"must have {self.min_chars} to {self.max_chars} characters")
        if _CONTROL_CHARS.search(value):
            return _invalid(field_name, "must not contain control characters")
        return value

    def describe(self) -> str:
        return f"string ({self.min_chars}-{self.max_chars} chars, no control characters)"


@dataclass(frozen=True)
class BoolSpec(FieldSpec):
    def _parse(self, field_name: str, value: object) -> object | VenueError:
        if type(value) is not bool:
            return _invalid(field_name, "must be true or false")
        return value

    def describe(self) -> str:
        return "boolean"


@dataclass(frozen=True)
class IntSpec(FieldSpec):
    minimum: int
    maximum: int

    def _parse(self, field_name: str, value: object) -> object | VenueError:
        if type(value) is not int:
            return _invalid(field_name, "must be an integer")
        if not self.minimum <= value <= self.maximum:
            return _invalid(field_name, f"must be between {self.minimum} and {self.maximum}")
        return value

    def describe(self) -> str:
        return f"integer ({self.minimum}-{self.maximum})"


@dataclass(frozen=True)
class EnumSpec(FieldSpec):
    enum: type[StrEnum]

    def _parse(self, field_name: str, value: object) -> object | VenueError:
        if type(value) is not str:
            return _invalid(field_name, "must be a string")
        try:
            return self.enum(value)
        except ValueError:
            return _invalid(field_name, f"must be one of {', '.join(m.value for m in self.enum)}")

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{m.value}`" for m in self.enum)


@dataclass(frozen=True)
class IdGroupsSpec(FieldSpec):
    max_groups: int
    max_group_size: int

    def _parse(self, field_name: str, value: object) -> object | VenueError:
        if type(value) is not list or len(value) > self.max_groups:
            return _invalid(field_name, f"must be a list of at most {self.max_groups} groups")
        groups: list[tuple[ParticipantId, ...]] = []
        for group in value:
            if type(group) is not list or not 1 <= len(group) <= self.max_group_size:
                return _invalid(field_name, f"each group must list 1 to {self.max_group_size} ids")
            ids: list[ParticipantId] = []
            for item in group:
                parsed = _parse_id(field_name, item)
                if isinstance(parsed, VenueError):
                    return parsed
                ids.append(ParticipantId(parsed))
            groups.append(tuple(ids))
        return tuple(groups)

    def describe(self) -> str:
        return f"list of at most {self.max_groups} lists of 1-{self.max_group_size} participant ids"


def _parse_id(field_name: str, value: object) -> str | VenueError:
    if type(value) is not str:
        return _invalid(field_name, "must be a string id")
    if len(value) > MAX_ID_CHARS or not _ID_PATTERN.fullmatch(value):
        return _invalid(field_name, f"must be an id of 1 to {MAX_ID_CHARS} allowed characters")
    return value


def _spec(spec: FieldSpec) -> dict[str, FieldSpec]:
    return {"spec": spec}


_SPACE = _spec(IdSpec())
_PARTICIPANT = _spec(IdSpec())
_REASON = _spec(TextSpec(max_chars=MAX_REASON_CHARS))


class ClientPayloadBase:
    """Base of every client event payload; ``name`` is the Socket.IO event name."""

    name: ClassVar[str]
    organiser_only: ClassVar[bool] = False
    max_bytes: ClassVar[int] = MAX_PAYLOAD_BYTES


# --- participant events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinSpace(ClientPayloadBase):
    """Enter a space (or the lobby), leaving the current one."""

    name = "join_space"
    space_id: SpaceId = field(metadata=_SPACE)


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaveSpace(ClientPayloadBase):
    """Go back to the lobby."""

    name = "leave_space"


@dataclass(frozen=True, slots=True, kw_only=True)
class Publish(ClientPayloadBase):
    """Start sending a track into the current space."""

    name = "publish"
    kind: MediaKind = field(metadata=_spec(EnumSpec(MediaKind)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Unpublish(ClientPayloadBase):
    """Stop sending a track."""

    name = "unpublish"
    kind: MediaKind = field(metadata=_spec(EnumSpec(MediaKind)))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMuted(ClientPayloadBase):
    """Mute or unmute one of your own published tracks."""

    name = "set_muted"
    kind: MediaKind = field(metadata=_spec(EnumSpec(MediaKind)))
    muted: bool = field(metadata=_spec(BoolSpec()))


@dataclass(frozen=True, slots=True, kw_only=True)
class RaiseHand(ClientPayloadBase):
    """Raise your hand in the current space."""

    name = "raise_hand"


@dataclass(frozen=True, slots=True, kw_only=True)
class LowerHand(ClientPayloadBase):
    """Lower your hand."""

    name = "lower_hand"


@dataclass(frozen=True, slots=True, kw_only=True)
class React(ClientPayloadBase):
    """Send a reaction; rate-limited and broadcast aggregated about once a second."""

    name = "react"
    reaction: ReactionKind = field(metadata=_spec(EnumSpec(ReactionKind)))


# --- organiser events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MuteParticipant(ClientPayloadBase):
    """Mute a participant's microphone (they may unmute themselves)."""

    name = "mute_participant"
    organiser_only = True
    participant_id: ParticipantId = field(metadata=_PARTICIPANT)


@dataclass(frozen=True, slots=True, kw_only=True)
class LowerParticipantHand(ClientPayloadBase):
    """Lower a participant's raised hand."""

    name = "lower_participant_hand"
    organiser_only = True
    participant_id: ParticipantId = field(metadata=_PARTICIPANT)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveParticipant(ClientPayloadBase):
    """Remove a participant from the event; they cannot rejoin it."""

    name = "remove_participant"
    organiser_only = True
    participant_id: ParticipantId = field(metadata=_PARTICIPANT)
    reason: str = field(default="", metadata=_REASON)


@dataclass(frozen=True, slots=True, kw_only=True)
class Promote(ClientPayloadBase):
    """Audience -> backstage speaker on a stage."""

    name = "promote"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)
    participant_id: ParticipantId = field(metadata=_PARTICIPANT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Demote(ClientPayloadBase):
    """Backstage or live speaker -> audience."""

    name = "demote"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)
    participant_id: ParticipantId = field(metadata=_PARTICIPANT)


@dataclass(frozen=True, slots=True, kw_only=True)
class BringLive(ClientPayloadBase):
    """Backstage -> live on stage (may publish)."""

    name = "bring_live"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)
    participant_id: ParticipantId = field(metadata=_PARTICIPANT)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendBackstage(ClientPayloadBase):
    """Live -> backstage (stops publishing)."""

    name = "send_backstage"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)
    participant_id: ParticipantId = field(metadata=_PARTICIPANT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Spotlight(ClientPayloadBase):
    """Spotlight one occupant (a live speaker on a stage), or clear it with null."""

    name = "spotlight"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)
    participant_id: ParticipantId | None = field(metadata=_spec(IdSpec(nullable=True)))


@dataclass(frozen=True, slots=True, kw_only=True)
class LockSpace(ClientPayloadBase):
    """Lock or unlock a space: a locked space admits no newcomers except organisers."""

    name = "lock_space"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)
    locked: bool = field(metadata=_spec(BoolSpec()))


@dataclass(frozen=True, slots=True, kw_only=True)
class EndSpace(ClientPayloadBase):
    """End a space: its occupants are told why and moved to the lobby."""

    name = "end_space"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)
    reason: str = field(default="", metadata=_REASON)


@dataclass(frozen=True, slots=True, kw_only=True)
class EndEvent(ClientPayloadBase):
    """End the event: everyone is told why and disconnected."""

    name = "end_event"
    organiser_only = True
    reason: str = field(default="", metadata=_REASON)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenBreakouts(ClientPayloadBase):
    """Move a space's participants into breakout rooms: `manual` needs `groups`, `groups` mode needs
    `group_size`, `by_team` needs neither."""

    name = "open_breakouts"
    organiser_only = True
    max_bytes = MAX_BREAKOUT_PAYLOAD_BYTES
    space_id: SpaceId = field(metadata=_SPACE)
    mode: BreakoutMode = field(metadata=_spec(EnumSpec(BreakoutMode)))
    groups: tuple[tuple[ParticipantId, ...], ...] = field(
        default=(), metadata=_spec(IdGroupsSpec(MAX_BREAKOUT_GROUPS, MAX_BREAKOUT_GROUP_SIZE))
    )
    group_size: int | None = field(default=None, metadata=_spec(IntSpec(1, MAX_BREAKOUT_GROUP_SIZE)))


@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcastToBreakouts(ClientPayloadBase):
    """Send a message to every open breakout room of a space."""

    name = "broadcast_breakouts"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)
    text: str = field(metadata=_spec(TextSpec(max_chars=MAX_BROADCAST_CHARS, min_chars=1)))


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseBreakouts(ClientPayloadBase):
    """Close the breakouts of a space and bring everyone back to it."""

    name = "close_breakouts"
    organiser_only = True
    space_id: SpaceId = field(metadata=_SPACE)


ClientPayload = (
    JoinSpace
    | LeaveSpace
    | Publish
    | Unpublish
    | SetMuted
    | RaiseHand
    | LowerHand
    | React
    | MuteParticipant
    | LowerParticipantHand
    | RemoveParticipant
    | Promote
    | Demote
    | BringLive
    | SendBackstage
    | Spotlight
    | LockSpace
    | EndSpace
    | EndEvent
    | OpenBreakouts
    | BroadcastToBreakouts
    | CloseBreakouts
)

_PAYLOAD_TYPES: Final[tuple[type[ClientPayloadBase], ...]] = (
    JoinSpace,
    LeaveSpace,
    Publish,
    Unpublish,
    SetMuted,
    RaiseHand,
    LowerHand,
    React,
    MuteParticipant,
    LowerParticipantHand,
    RemoveParticipant,
    Promote,
    Demote,
    BringLive,
    SendBackstage,
    Spotlight,
    LockSpace,
    EndSpace,
    EndEvent,
    OpenBreakouts,
    BroadcastToBreakouts,
    CloseBreakouts,
)

CLIENT_EVENTS: Final[Mapping[str, type[ClientPayloadBase]]] = {t.name: t for t in _PAYLOAD_TYPES}
"""Every client -> server event name and its payload type."""

ORGANISER_EVENTS: Final[frozenset[str]] = frozenset(t.name for t in _PAYLOAD_TYPES if t.organiser_only)


def _encoded_size_bytes(data: object, limit_bytes: int) -> int | None:
    """An upper estimate of ``data``'s JSON size, or ``None`` when it is not plain JSON or nests too deep.

    Stops counting as soon as the estimate passes ``limit_bytes`` so huge payloads cost little.
    """
    total = 0
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return None
        if value is None or isinstance(value, bool):
            total += 5
        elif isinstance(value, int):
            total += value.bit_length() // 3 + 2
        elif isinstance(value, float):
            total += 24
        elif isinstance(value, str):
            oversized = len(value) > limit_bytes
            total += 2 + (len(value) * 4 if oversized else len(value.encode("utf-8", "replace")))
        elif isinstance(value, list):
            total += 2 + len(value)
            stack.extend((item, depth + 1) for item in value[: limit_bytes + 1])
        elif isinstance(value, dict):
            total += 2 + 2 * len(value)
            for key, item in list(value.items())[: limit_bytes + 1]:
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
        else:
            return None
        if total > limit_bytes:
            return total
    return total


def validate(event_name: object, data: object) -> ClientPayload | VenueError:
    """Check one untrusted client event; return its typed payload or the error to send back."""
    if type(event_name) is not str or event_name not in CLIENT_EVENTS:
        shown = event_name[:MAX_ID_CHARS] if isinstance(event_name, str) else type(event_name).__name__
        return VenueError(ErrorCode.UNKNOWN_EVENT, f"unknown event {shown!r}")
    payload_type = CLIENT_EVENTS[event_name]
    if data is None:
        data = {}
    size_bytes = _encoded_size_bytes(data, payload_type.max_bytes)
    if size_bytes is None:
        return VenueError(ErrorCode.INVALID_PAYLOAD, "payload must be a JSON object of plain values")
    if size_bytes > payload_type.max_bytes:
        return VenueError(ErrorCode.PAYLOAD_TOO_LARGE, f"payload exceeds {payload_type.max_bytes} bytes")
    if type(data) is not dict:
        return VenueError(ErrorCode.INVALID_PAYLOAD, "payload must be a JSON object")
    return _parse_fields(payload_type, data)


def _parse_fields(payload_type: type[ClientPayloadBase], data: dict[Any, Any]) -> ClientPayload | VenueError:
    fields_by_name = {f.name: f for f in dataclasses.fields(cast(Any, payload_type))}
    for key in data:
        if type(key) is not str or key not in fields_by_name:
            shown_key = key[:MAX_ID_CHARS] if isinstance(key, str) else type(key).__name__
            return VenueError(ErrorCode.UNKNOWN_FIELD, f"unknown field {shown_key!r}")
    values: dict[str, object] = {}
    for name, spec_field in fields_by_name.items():
        if name not in data:
            if spec_field.default is dataclasses.MISSING:
                return VenueError(ErrorCode.MISSING_FIELD, f"field {name!r} is required")
            continue
        spec = spec_field.metadata["spec"]
        assert isinstance(spec, FieldSpec)
        parsed = spec.parse(name, data[name])
        if isinstance(parsed, VenueError):
            return parsed
        values[name] = parsed
    constructor = cast(Callable[..., ClientPayload], payload_type)
    return constructor(**values)


@dataclass(frozen=True, slots=True)
class FieldDescription:
    name: str
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class EventDescription:
    name: str
    organiser_only: bool
    summary: str
    fields: tuple[FieldDescription, ...]


def describe_events() -> tuple[EventDescription, ...]:
    """The client events and their fields, for generating the protocol documentation."""
    described: list[EventDescription] = []
    for payload_type in _PAYLOAD_TYPES:
        fields_ = tuple(
            FieldDescription(
                name=f.name,
                required=f.default is dataclasses.MISSING,
                description=cast(FieldSpec, f.metadata["spec"]).describe(),
            )
            for f in dataclasses.fields(cast(Any, payload_type))
        )
        doc = payload_type.__doc__ or ""
        summary = "" if doc.startswith(payload_type.__name__ + "(") else doc.strip()
        described.append(EventDescription(payload_type.name, payload_type.organiser_only, summary, fields_))
    return tuple(described)
