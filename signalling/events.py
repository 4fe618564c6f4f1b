"""Inputs of the venue state machine: runtime events (sockets, ticks, SFU observations) and client events."""

from __future__ import annotations

from dataclasses import dataclass

from signalling.ids import ConnectionId, ParticipantId, SpaceId
from signalling.members import Member
from signalling.protocol import ClientPayload
from signalling.spaces import SpaceConfig


@dataclass(frozen=True, slots=True)
class Connect:
    """A socket presented a verified join token for this participant."""

    connection_id: ConnectionId
    member: Member


@dataclass(frozen=True, slots=True)
class Disconnect:
    connection_id: ConnectionId


@dataclass(frozen=True, slots=True)
class Tick:
    """Periodic clock input: ends expired reconnect grace periods and flushes aggregated reactions."""


@dataclass(frozen=True, slots=True)
class ActiveSpeakerObserved:
    """The SFU's audio-level detector picked the loudest publisher of a space (or nobody)."""

    space_id: SpaceId
    participant_id: ParticipantId | None


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """The organiser changed the event's spaces (or teams) through the control API after the venue
    started: ``spaces`` is the whole new list. New spaces open, changed ones take their new title and
    capacity, and the occupants of a removed space (or one whose kind changed) go back to the lobby."""

    spaces: tuple[SpaceConfig, ...]


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """An already validated client event."""

    connection_id: ConnectionId
    payload: ClientPayload


@dataclass(frozen=True, slots=True)
class RawClientEvent:
    """An untrusted client event, exactly as the socket delivered it; validated before it is applied."""

    connection_id: ConnectionId
    event_name: object
    data: object


VenueEvent = Connect | Disconnect | Tick | ActiveSpeakerObserved | Reconfigure | ClientEvent | RawClientEvent
