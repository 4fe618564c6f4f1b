"""Attendance: fold an event's analytics log into who was there, where, and for how long.

Pure: events in, figures out; time comes from the events. Every event carries a unique id, and
an id already applied is ignored, so replaying or duplicating the log changes nothing. Folding
the same log twice gives the same figures (``derive`` is the reproducible way to get them).

Online time runs from ``arrive`` or ``reconnect`` to ``disconnect`` or ``depart``; the grace
period after a disconnect does not count. Time in a space runs from ``join`` to ``leave``, and
pauses while the participant is disconnected (``reconnect`` names the space they return to).
Each participant id counts once per event, however often they reconnect, switch spaces or open
a second tab.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, NewType

ParticipantId = NewType("ParticipantId", str)
SpaceId = NewType("SpaceId", str)

_OPENS_ONLINE: Final = frozenset({"arrive", "reconnect"})
_CLOSES_ONLINE: Final = frozenset({"disconnect", "depart"})


@dataclass(frozen=True, slots=True)
class AnalyticsEvent:
    """One entry of ``vk:analytics:{event}`` (written by signalling)."""

    event_id: str
    """Unique id of this analytics event (``<venue log entry>:<index>``)."""
    kind: str
    at_ms: int
    participant_id: ParticipantId | None = None
    space_id: SpaceId | None = None


@dataclass(slots=True)
class _Person:
    online_ms: int = 0
    online_since_ms: int | None = None
    sessions: int = 0
    space_ms: dict[SpaceId, int] = field(default_factory=dict)
    in_space: SpaceId | None = None
    in_space_since_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    unique_participants: int
    participant_ms: int
    sessions: int
    per_space_unique: dict[SpaceId, int]
    per_space_ms: dict[SpaceId, int]
    per_participant_ms: dict[ParticipantId, int]

    @property
    def participant_minutes(self) -> float:
        return self.participant_ms / 60_000


class Attendance:
    """The running fold of one event's analytics log."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._people: dict[ParticipantId, _Person] = {}
        self._space_visitors: dict[SpaceId, set[ParticipantId]] = {}
        self.last_ms = 0

    def apply(self, event: AnalyticsEvent) -> bool:
        """Fold one event in; False when its id was applied before (nothing changes)."""
        if event.event_id in self._seen:
            return False
        self._seen.add(event.event_id)
        self.last_ms = max(self.last_ms, event.at_ms)
        if event.kind == "event_ended":
            for someone in self._people.values():
                self._go_offline(someone, event.at_ms)
            return True
        pid = event.participant_id
        if pid is None:
            return True
        person = self._people.setdefault(pid, _Person())
        if event.kind in _OPENS_ONLINE:
            if person.online_since_ms is None:
                person.online_since_ms = event.at_ms
                person.sessions += 1
            if event.kind == "reconnect" and event.space_id and event.space_id != "lobby":
                self._enter(person, pid, event.space_id, event.at_ms)
        elif event.kind in _CLOSES_ONLINE:
            self._go_offline(person, event.at_ms)
        elif event.kind == "join" and event.space_id is not None:
            self._enter(person, pid, event.space_id, event.at_ms)
        elif event.kind == "leave" and event.space_id is not None and person.in_space == event.space_id:
            self._close_space(person, event.at_ms)
            person.in_space = None
        return True

    def _enter(self, person: _Person, pid: ParticipantId, space: SpaceId, at_ms: int) -> None:
        if person.in_space != space:
            self._close_space(person, at_ms)
        person.in_space = space
        if person.in_space_since_ms is None:
            person.in_space_since_ms = at_ms
        self._space_visitors.setdefault(space, set()).add(pid)

    def _close_space(self, person: _Person, at_ms: int) -> None:
        if person.in_space is not None and person.in_space_since_ms is not None:
            spent = max(0, at_ms - person.in_space_since_ms)
            person.space_ms[person.in_space] = person.space_ms.get(person.in_space, 0) + spent
        person.in_space_since_ms = None

    def _go_offline(self, person: _Person, at_ms: int) -> None:
        if person.online_since_ms is not None:
            person.online_ms += max(0, at_ms - person.online_since_ms)
            person.online_since_ms = None
        self._close_space(person, at_ms)

    def totals(self, now_ms: int | None = None) -> Totals:
        """Figures so far; time still running is counted up to ``now_ms`` (default: the last event)."""
        until = self.last_ms if now_ms is None else now_ms
        per_participant: dict[ParticipantId, int] = {}
        per_space_ms: dict[SpaceId, int] = {}
        for pid, person in self._people.items():
            online = person.online_ms
            if person.online_since_ms is not None:
                online += max(0, until - person.online_since_ms)
            per_participant[pid] = online
            for space, spent in person.space_ms.items():
                per_space_ms[space] = per_space_ms.get(space, 0) + spent
            if person.in_space is not None and person.in_space_since_ms is not None:
                running = max(0, until - person.in_space_since_ms)
                per_space_ms[person.in_space] = per_space_ms.get(person.in_space, 0) + running
        return Totals(
            unique_participants=len(self._people),
            participant_ms=sum(per_participant.values()),
            sessions=sum(p.sessions for p in self._people.values()),
            per_space_unique={space: len(who) for space, who in self._space_visitors.items()},
            per_space_ms=per_space_ms,
            per_participant_ms=per_participant,
        )


def fold(events: Iterable[AnalyticsEvent], now_ms: int | None = None) -> Totals:
    """The figures of a whole log, from scratch: the reproducible (and auditable) way."""
    attendance = Attendance()
    for event in events:
        attendance.apply(event)
    return attendance.totals(now_ms)
