"""Billing counts of one event for one period: unique participants and participant-minutes.

Pure: people's figures in, an invoice line out. A participant counts in a period when one of
their sessions overlaps it, once however many sessions they had (reconnects, second tabs and
space switches are one person; a second tab never opens a second session); their minutes are
the parts of their sessions inside the period. A session still open counts up to ``now_ms``.
Every line carries the sessions that make it, each naming the analytics events that opened and
closed it, so an invoice line can be traced back to the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analytics.attendance import ParticipantId, PersonFigures, Session


@dataclass(frozen=True, slots=True)
class BilledSession:
    start_ms: int
    """Clipped to the period."""
    end_ms: int
    """Clipped to the period (``now_ms`` for a session still open)."""
    opened_by: str
    closed_by: str | None
    """None while the session is still open."""

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class ParticipantBill:
    participant_id: ParticipantId
    sessions: tuple[BilledSession, ...]

    @property
    def ms(self) -> int:
        return sum(s.ms for s in self.sessions)


@dataclass(frozen=True, slots=True)
class EventBill:
    event_id: str
    from_ms: int
    to_ms: int
    participants: tuple[ParticipantBill, ...]

    @property
    def unique_participants(self) -> int:
        return len(self.participants)

    @property
    def participant_ms(self) -> int:
        return sum(p.ms for p in self.participants)

    @property
    def sessions(self) -> int:
        return sum(len(p.sessions) for p in self.participants)


def _clip(session: Session, from_ms: int, to_ms: int, now_ms: int) -> BilledSession | None:
    end = session.end_ms if session.end_ms is not None else now_ms
    start, stop = max(session.start_ms, from_ms), min(end, to_ms)
    if stop <= start and not (start == stop == session.start_ms and from_ms <= start < to_ms):
        return None
    return BilledSession(start, max(start, stop), session.opened_by, session.closed_by)


def bill_event(
    event_id: str, people: Mapping[ParticipantId, PersonFigures], from_ms: int, to_ms: int, now_ms: int
) -> EventBill:
    """The invoice line of ``event_id`` for ``[from_ms, to_ms)``."""
    lines: list[ParticipantBill] = []
    for pid in sorted(people):
        clipped = [_clip(s, from_ms, to_ms, now_ms) for s in people[pid].sessions]
        sessions = tuple(s for s in clipped if s is not None)
        if sessions:
            lines.append(ParticipantBill(pid, sessions))
    return EventBill(event_id, from_ms, to_ms, tuple(lines))
