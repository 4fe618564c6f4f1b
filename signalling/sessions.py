"""Connections per participant and the reconnect grace period: many sockets, one presence.

A participant is online while at least one of their connections is open. When the last one closes,
a grace deadline starts; a connection arriving before it resumes the same presence, and ``expire``
reports the participants whose deadline has passed so their leave becomes final.
"""

from __future__ import annotations

from dataclasses import dataclass

from signalling.ids import ConnectionId, ParticipantId


@dataclass(frozen=True, slots=True)
class Attached:
    """Result of ``attach``: ``first`` when the participant had no presence at all before."""

    first: bool
    resumed_from_grace: bool


class SessionTable:
    def __init__(self, grace_period_ms: int) -> None:
        if grace_period_ms < 0:
            raise ValueError("grace_period_ms must not be negative")
        self.grace_period_ms = grace_period_ms
        self._participant_of: dict[ConnectionId, ParticipantId] = {}
        self._connections: dict[ParticipantId, list[ConnectionId]] = {}
        self._grace_deadline_ms: dict[ParticipantId, int] = {}

    def participant_of(self, connection_id: ConnectionId) -> ParticipantId | None:
        return self._participant_of.get(connection_id)

    def connections_of(self, participant_id: ParticipantId) -> tuple[ConnectionId, ...]:
        return tuple(self._connections.get(participant_id, ()))

    def is_known(self, participant_id: ParticipantId) -> bool:
        """Online, or offline within the grace period."""
        return participant_id in self._connections

    def is_online(self, participant_id: ParticipantId) -> bool:
        return bool(self._connections.get(participant_id))

    def grace_deadline_ms(self, participant_id: ParticipantId) -> int | None:
        return self._grace_deadline_ms.get(participant_id)

    def attach(self, connection_id: ConnectionId, participant_id: ParticipantId) -> Attached:
        if connection_id in self._participant_of:
            raise ValueError(f"connection {connection_id!r} is already attached")
        first = participant_id not in self._connections
        resumed = self._grace_deadline_ms.pop(participant_id, None) is not None
        self._participant_of[connection_id] = participant_id
        self._connections.setdefault(participant_id, []).append(connection_id)
        return Attached(first=first, resumed_from_grace=resumed)

    def detach(self, connection_id: ConnectionId, now_ms: int) -> ParticipantId | None:
        """Close one connection; return its participant when that was their last one (grace starts)."""
        participant_id = self._participant_of.pop(connection_id, None)
        if participant_id is None:
            return None
        remaining = self._connections[participant_id]
        remaining.remove(connection_id)
        if remaining:
            return None
        self._grace_deadline_ms[participant_id] = now_ms + self.grace_period_ms
        return participant_id

    def expire(self, now_ms: int) -> list[ParticipantId]:
        """Forget and return every participant whose grace deadline is at or before ``now_ms``."""
        due = sorted(pid for pid, deadline in self._grace_deadline_ms.items() if deadline <= now_ms)
        for participant_id in due:
            self.forget(participant_id)
        return due

    def forget(self, participant_id: ParticipantId) -> tuple[ConnectionId, ...]:
        """Drop the participant entirely; return the connections that were still open."""
        connections = tuple(self._connections.pop(participant_id, ()))
        for connection_id in connections:
            del self._participant_of[connection_id]
        self._grace_deadline_ms.pop(participant_id, None)
        return connections

    def participants(self) -> list[ParticipantId]:
        return list(self._connections)
