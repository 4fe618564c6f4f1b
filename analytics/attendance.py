"""Attendance and engagement: fold an event's analytics log into who was there, where, for how long,
and what they did.

Pure: events in, figures out; time comes from the events. Every event carries a unique id; an id
seen twice counts once, and each participant's events are put in order by their id (the venue
log position, :func:`order_key`) before they are folded, so the figures are a function of the
*set* of events: replaying, duplicating or delivering them in any interleaving gives the same
figures. That is what lets several workers share the log (:mod:`analytics.worker`) and what makes
re-deriving from the log reproduce them.

Online time runs from ``arrive`` or ``reconnect`` to ``disconnect`` or ``depart``; the grace
period after a disconnect does not count. Time in a space runs from ``join`` to ``leave`` and
pauses while the participant is disconnected (``reconnect`` names the space they return to).
Each participant id counts once per event, however often they reconnect, switch spaces or open
a second tab. ``event_ended`` closes whatever is still open.

Engagement (chat messages, reactions, hands raised, speaking time, time live on a stage) is kept
per space; a participant any of whose events carries ``profiling=0`` (they declined analytics)
counts for attendance and billing but gets no engagement figures at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NewType

ParticipantId = NewType("ParticipantId", str)
SpaceId = NewType("SpaceId", str)

LOBBY: Final = SpaceId("lobby")
EVENT_WIDE: Final = ""
"""The engagement key of what happened outside any space (event-wide or team chat)."""

_OPENS_ONLINE: Final = frozenset({"arrive", "reconnect"})
_CLOSES_ONLINE: Final = frozenset({"disconnect", "depart"})
_STAGE_OFF: Final = frozenset({"backstage", "demote", "remove"})
_ID: Final = re.compile(r"^(\d{1,20})-(\d{1,20}):(\d{1,9})(.*)$")


@dataclass(frozen=True, slots=True)
class AnalyticsEvent:
    """One entry of ``vk:analytics:{event}`` (written by signalling)."""

    event_id: str
    """Unique id of this analytics event (``<venue log entry>:<index>``, or ``chat:...``)."""
    kind: str
    at_ms: int
    participant_id: ParticipantId | None = None
    space_id: SpaceId | None = None
    actor_id: ParticipantId | None = None
    profiling: bool = True
    """False when the participant declined analytics (``profiling=0`` on the stream)."""


def order_key(event: AnalyticsEvent) -> tuple[int, int, int, int, str]:
    """The venue log position the id names (the order things happened in), else the time.

    Not ``at_ms`` first: a leave inferred from a dead instance is dated back to its last heartbeat
    but happened where the reaper logged it; its time only bounds the session it closes.
    """
    m = _ID.match(event.event_id)
    if m is None:
        return (event.at_ms, 1, 0, 0, event.event_id)
    return (int(m[1]), 0, int(m[2]), int(m[3]), m[4])


@dataclass(frozen=True, slots=True)
class Span:
    """Time accumulated so far: closed intervals plus the one still running (``since_ms``)."""

    closed_ms: int = 0
    since_ms: int | None = None

    def at(self, now_ms: int) -> int:
        running = max(0, now_ms - self.since_ms) if self.since_ms is not None else 0
        return self.closed_ms + running


@dataclass(frozen=True, slots=True)
class Session:
    """One stretch online; ``opened_by``/``closed_by`` name the analytics events (the audit trail)."""

    start_ms: int
    end_ms: int | None
    opened_by: str
    closed_by: str | None


@dataclass(frozen=True, slots=True)
class Engagement:
    chat_messages: int = 0
    reactions: int = 0
    hands_raised: int = 0
    speaking: Span = Span()
    stage: Span = Span()


@dataclass(frozen=True, slots=True)
class PersonFigures:
    """Everything one participant's events of one event add up to."""

    participant_id: ParticipantId
    profiling: bool
    sessions: tuple[Session, ...]
    online: Span
    spaces: Mapping[SpaceId, Span]
    engagement: Mapping[str, Engagement]
    """Per space id (``EVENT_WIDE`` for outside any space); empty when ``profiling`` is False."""

    def contributions(self) -> dict[str, int]:
        """This person's share of the event's counters; summing them over people gives the event's
        figures, and the worker keeps those sums by adding (new - old) of a person's share."""
        out: dict[str, int] = {"people": 1, "sessions": len(self.sessions)}
        _add_span(out, "online", self.online)
        for space, span in self.spaces.items():
            out[f"space:{space}:people"] = 1
            _add_span(out, f"space:{space}", span)
        out["profiled" if self.profiling else "unprofiled"] = 1
        for where, eng in self.engagement.items():
            prefix = f"eng:{where}"
            out[prefix + ":chat"] = eng.chat_messages
            out[prefix + ":reactions"] = eng.reactions
            out[prefix + ":hands"] = eng.hands_raised
            _add_span(out, prefix + ":speaking", eng.speaking)
            _add_span(out, prefix + ":stage", eng.stage)
        return {k: v for k, v in out.items() if v}

    def to_json(self) -> dict[str, Any]:
        return {
            "p": self.participant_id,
            "pr": self.profiling,
            "se": [[s.start_ms, s.end_ms, s.opened_by, s.closed_by] for s in self.sessions],
            "on": _span_json(self.online),
            "sp": {k: _span_json(v) for k, v in self.spaces.items()},
            "en": {
                k: [e.chat_messages, e.reactions, e.hands_raised, _span_json(e.speaking), _span_json(e.stage)]
                for k, e in self.engagement.items()
            },
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> PersonFigures:
        return PersonFigures(
            participant_id=ParticipantId(data["p"]),
            profiling=bool(data["pr"]),
            sessions=tuple(Session(s[0], s[1], s[2], s[3]) for s in data["se"]),
            online=_span_of(data["on"]),
            spaces={SpaceId(k): _span_of(v) for k, v in data["sp"].items()},
            engagement={
                k: Engagement(e[0], e[1], e[2], _span_of(e[3]), _span_of(e[4])) for k, e in data["en"].items()
            },
        )


def _add_span(out: dict[str, int], prefix: str, span: Span) -> None:
    out[prefix + ":ms"] = span.closed_ms
    if span.since_ms is not None:
        out[prefix + ":open"] = 1
        out[prefix + ":since"] = span.since_ms


def _span_json(span: Span) -> list[int | None]:
    return [span.closed_ms, span.since_ms]


def _span_of(data: list[int | None]) -> Span:
    closed, since = data
    return Span(int(closed or 0), since)


class _Clock:
    __slots__ = ("closed_ms", "since_ms")

    def __init__(self) -> None:
        self.closed_ms = 0
        self.since_ms: int | None = None

    def start(self, at_ms: int) -> None:
        if self.since_ms is None:
            self.since_ms = at_ms

    def stop(self, at_ms: int) -> None:
        if self.since_ms is not None:
            self.closed_ms += max(0, at_ms - self.since_ms)
            self.since_ms = None

    def frozen(self) -> Span:
        return Span(self.closed_ms, self.since_ms)


@dataclass(slots=True)
class _Eng:
    chat: int = 0
    reactions: int = 0
    hands: int = 0
    speaking: _Clock = field(default_factory=_Clock)
    stage: _Clock = field(default_factory=_Clock)


class _Person:
    """The fold of one participant's events, in order."""

    def __init__(self) -> None:
        self.profiling = True
        self.sessions: list[list[Any]] = []
        self.online = _Clock()
        self.is_online = False
        self.location: SpaceId | None = None
        self.spaces: dict[SpaceId, _Clock] = {}
        self.eng: dict[str, _Eng] = {}
        self.speaking_in: SpaceId | None = None
        self.live_in: SpaceId | None = None

    def _e(self, where: SpaceId | str | None) -> _Eng:
        return self.eng.setdefault(where or EVENT_WIDE, _Eng())

    def _pause(self, at_ms: int) -> None:
        """Stop every clock that runs only while online (location and stage role are kept)."""
        if self.location is not None:
            self.spaces[self.location].stop(at_ms)
        if self.speaking_in is not None:
            self._e(self.speaking_in).speaking.stop(at_ms)
            self.speaking_in = None
        if self.live_in is not None:
            self._e(self.live_in).stage.stop(at_ms)

    def _resume(self, at_ms: int) -> None:
        if self.location is not None:
            self.spaces[self.location].start(at_ms)
        if self.live_in is not None and self.live_in == self.location:
            self._e(self.live_in).stage.start(at_ms)

    def _leave_space(self, at_ms: int) -> None:
        self._pause(at_ms)
        self.live_in = None
        self.location = None

    def _enter(self, space: SpaceId, at_ms: int) -> None:
        if space == LOBBY:
            if self.location is not None:
                self._leave_space(at_ms)
            return
        if self.location != space:
            self._leave_space(at_ms)
            self.location = space
            self.spaces.setdefault(space, _Clock())
        if self.is_online:
            self.spaces[space].start(at_ms)

    def apply(self, e: AnalyticsEvent) -> None:  # noqa: PLR0912 - one arm per kind
        if not e.profiling:
            self.profiling = False
        at = e.at_ms
        kind = e.kind
        if kind in _OPENS_ONLINE:
            if not self.is_online:
                self.is_online = True
                self.online.start(at)
                self.sessions.append([at, None, e.event_id, None])
            if kind == "reconnect" and e.space_id:
                self._enter(e.space_id, at)
            self._resume(at)
        elif kind in _CLOSES_ONLINE:
            if self.is_online:
                self.is_online = False
                self.online.stop(at)
                self.sessions[-1][1] = max(at, self.sessions[-1][0])
                self.sessions[-1][3] = e.event_id
            self._pause(at)
            if kind == "depart":
                self._leave_space(at)
        elif kind == "join" and e.space_id is not None:
            self._enter(e.space_id, at)
        elif kind == "leave" and e.space_id is not None and self.location == e.space_id:
            self._leave_space(at)
        elif kind == "chat_message":
            self._e(e.space_id).chat += 1
        elif kind == "reaction":
            self._e(e.space_id).reactions += 1
        elif kind == "hand_raised":
            self._e(e.space_id).hands += 1
        elif kind == "speaking_started" and e.space_id and self.is_online and e.space_id == self.location:
            if self.speaking_in is not None:
                self._e(self.speaking_in).speaking.stop(at)
            self.speaking_in = e.space_id
            self._e(e.space_id).speaking.start(at)
        elif kind == "speaking_stopped" and e.space_id and self.speaking_in == e.space_id:
            self._e(e.space_id).speaking.stop(at)
            self.speaking_in = None
        elif kind == "go_live" and e.space_id and e.space_id == self.location:
            self.live_in = e.space_id
            if self.is_online:
                self._e(e.space_id).stage.start(at)
        elif kind in _STAGE_OFF and e.space_id and self.live_in == e.space_id:
            self._e(e.space_id).stage.stop(at)
            self.live_in = None

    def end(self, at_ms: int) -> None:
        """The event ended: close what is open (never before it started)."""
        clocks = [self.online, *self.spaces.values()]
        for eng in self.eng.values():
            clocks += [eng.speaking, eng.stage]
        for clock in clocks:
            if clock.since_ms is not None:
                clock.stop(max(at_ms, clock.since_ms))
        if self.sessions and self.sessions[-1][1] is None:
            self.sessions[-1][1] = max(at_ms, self.sessions[-1][0])
            self.sessions[-1][3] = "event_ended"

    def figures(self, pid: ParticipantId) -> PersonFigures:
        engagement: dict[str, Engagement] = {}
        if self.profiling:
            engagement = {
                k: Engagement(e.chat, e.reactions, e.hands, e.speaking.frozen(), e.stage.frozen())
                for k, e in sorted(self.eng.items())
            }
        return PersonFigures(
            participant_id=pid,
            profiling=self.profiling,
            sessions=tuple(Session(s[0], s[1], s[2], s[3]) for s in self.sessions),
            online=self.online.frozen(),
            spaces={k: c.frozen() for k, c in sorted(self.spaces.items())},
            engagement=engagement,
        )


def ended_at(events: Iterable[AnalyticsEvent]) -> int | None:
    """When the event ended (its first ``event_ended``), from the events without a participant."""
    ends = [e.at_ms for e in events if e.kind == "event_ended"]
    return min(ends) if ends else None


def summarise(
    participant_id: ParticipantId, events: Iterable[AnalyticsEvent], ended_ms: int | None = None
) -> PersonFigures:
    """One participant's figures from their events (any order, duplicates ignored)."""
    unique = {e.event_id: e for e in events}
    person = _Person()
    for event in sorted(unique.values(), key=order_key):
        person.apply(event)
    if ended_ms is not None:
        person.end(ended_ms)
    return person.figures(participant_id)


def people_of(events: Iterable[AnalyticsEvent]) -> dict[ParticipantId, PersonFigures]:
    """Every participant's figures from a whole log."""
    by_person: dict[ParticipantId, list[AnalyticsEvent]] = {}
    general: list[AnalyticsEvent] = []
    for event in events:
        if event.participant_id is None:
            general.append(event)
        else:
            by_person.setdefault(event.participant_id, []).append(event)
    ended = ended_at(general)
    return {pid: summarise(pid, evs, ended) for pid, evs in sorted(by_person.items())}


@dataclass(frozen=True, slots=True)
class Totals:
    unique_participants: int
    participant_ms: int
    sessions: int
    per_space_unique: dict[SpaceId, int]
    per_space_ms: dict[SpaceId, int]
    per_participant_ms: dict[ParticipantId, int]
    people: dict[ParticipantId, PersonFigures]

    @property
    def participant_minutes(self) -> float:
        return self.participant_ms / 60_000


def totals_of(people: Mapping[ParticipantId, PersonFigures], until_ms: int) -> Totals:
    """Attendance of ``people``; time still running counts up to ``until_ms``."""
    per_space_ms: dict[SpaceId, int] = {}
    per_space_unique: dict[SpaceId, int] = {}
    for person in people.values():
        for space, span in person.spaces.items():
            per_space_unique[space] = per_space_unique.get(space, 0) + 1
            per_space_ms[space] = per_space_ms.get(space, 0) + span.at(until_ms)
    per_participant = {pid: p.online.at(until_ms) for pid, p in people.items()}
    return Totals(
        unique_participants=len(people),
        participant_ms=sum(per_participant.values()),
        sessions=sum(len(p.sessions) for p in people.values()),
        per_space_unique=per_space_unique,
        per_space_ms=per_space_ms,
        per_participant_ms=per_participant,
        people=dict(people),
    )


class Attendance:
    """A growing set of one event's analytics events, and the figures it adds up to."""

    def __init__(self) -> None:
        self._events: dict[str, AnalyticsEvent] = {}
        self.last_ms = 0

    def apply(self, event: AnalyticsEvent) -> bool:
        """Add one event; False when its id was applied before (nothing changes)."""
        if event.event_id in self._events:
            return False
        self._events[event.event_id] = event
        self.last_ms = max(self.last_ms, event.at_ms)
        return True

    def totals(self, now_ms: int | None = None) -> Totals:
        """Figures so far; time still running is counted up to ``now_ms`` (default: the last event)."""
        until = self.last_ms if now_ms is None else now_ms
        return totals_of(people_of(self._events.values()), until)


def fold(events: Iterable[AnalyticsEvent], now_ms: int | None = None) -> Totals:
    """The figures of a whole log, from scratch: the reproducible (and auditable) way."""
    attendance = Attendance()
    for event in events:
        attendance.apply(event)
    return attendance.totals(now_ms)
