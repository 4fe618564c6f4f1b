"""Builders shared by the signalling tests: members, a standard venue, and a clocked harness."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from signalling.effects import Effect, ErrorReply
from signalling.errors import ErrorCode
from signalling.events import (
    ActiveSpeakerObserved,
    ClientEvent,
    Connect,
    Disconnect,
    RawClientEvent,
    Tick,
    VenueEvent,
)
from signalling.ids import ConnectionId, EventId, ParticipantId, SpaceId, TeamId
from signalling.invariants import violations
from signalling.kinds import Role, SpaceKind
from signalling.members import Member
from signalling.protocol import ClientPayload
from signalling.reactions import ReactionAggregator
from signalling.spaces import SpaceConfig
from signalling.venue import Venue

EVENT = EventId("evt-1")
OTHER_EVENT = EventId("evt-2")
STAGE = SpaceId("main-stage")
HALL = SpaceId("hall")
SMALL = SpaceId("small")
TEAM_A_ROOM = SpaceId("team-a-room")
TEAM_B_ROOM = SpaceId("team-b-room")
TEAM_A = TeamId("team-a")
TEAM_B = TeamId("team-b")
GRACE_MS = 10_000

T = TypeVar("T")


def standard_spaces() -> list[SpaceConfig]:
    return [
        SpaceConfig(STAGE, SpaceKind.STAGE, 50, title="Main stage"),
        SpaceConfig(HALL, SpaceKind.ROOM, 20, title="Hall"),
        SpaceConfig(SMALL, SpaceKind.ROOM, 2, title="Small room"),
        SpaceConfig(TEAM_A_ROOM, SpaceKind.TEAM_ROOM, 4, team_id=TEAM_A),
        SpaceConfig(TEAM_B_ROOM, SpaceKind.TEAM_ROOM, 4, team_id=TEAM_B),
    ]


def member(
    pid: str,
    role: Role = Role.ATTENDEE,
    *,
    teams: Iterable[str] = (),
    spaces: Iterable[str] = ("*",),
    event: EventId = EVENT,
) -> Member:
    return Member(
        participant_id=ParticipantId(pid),
        event_id=event,
        display_name=pid.title(),
        role=role,
        teams=frozenset(TeamId(t) for t in teams),
        spaces=frozenset(spaces),
    )


def of_type(effects: Iterable[Effect], cls: type[T]) -> list[T]:
    return [effect for effect in effects if isinstance(effect, cls)]


def error_codes(effects: Iterable[Effect]) -> list[ErrorCode]:
    return [effect.code for effect in of_type(effects, ErrorReply)]


class Harness:
    """A venue with a clock; each call applies one event and checks every invariant afterwards."""

    def __init__(self, venue: Venue | None = None) -> None:
        self.venue = venue or Venue(
            EVENT, standard_spaces(), grace_period_ms=GRACE_MS, reactions=ReactionAggregator()
        )
        self.now_ms = 1_000

    def _apply(self, event: VenueEvent) -> list[Effect]:
        effects = self.venue.apply(event, self.now_ms)
        assert violations(self.venue) == []
        return effects

    def connect(self, m: Member, connection: str | None = None) -> list[Effect]:
        return self._apply(Connect(ConnectionId(connection or f"c-{m.participant_id}"), m))

    def join(
        self,
        pid: str,
        role: Role = Role.ATTENDEE,
        *,
        teams: Iterable[str] = (),
        spaces: Iterable[str] = ("*",),
    ) -> Member:
        m = member(pid, role, teams=teams, spaces=spaces)
        assert error_codes(self.connect(m)) == []
        return m

    def send(self, pid: str, payload: ClientPayload, connection: str | None = None) -> list[Effect]:
        return self._apply(ClientEvent(ConnectionId(connection or f"c-{pid}"), payload))

    def raw(self, pid: str, name: object, data: object) -> list[Effect]:
        return self._apply(RawClientEvent(ConnectionId(f"c-{pid}"), name, data))

    def disconnect(self, connection: str) -> list[Effect]:
        return self._apply(Disconnect(ConnectionId(connection)))

    def tick(self, advance_ms: int = 0) -> list[Effect]:
        self.now_ms += advance_ms
        return self._apply(Tick())

    def speaker_observed(self, space: SpaceId, pid: str | None) -> list[Effect]:
        return self._apply(ActiveSpeakerObserved(space, None if pid is None else ParticipantId(pid)))

    def where(self, pid: str) -> SpaceId | None:
        return self.venue.location_of(ParticipantId(pid))
