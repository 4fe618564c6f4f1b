"""Breakouts through the venue: open (manual, by team, groups of N), broadcast, close."""

from __future__ import annotations

from signalling.effects import (
    BreakoutBroadcast,
    BreakoutRoom,
    BreakoutsClosed,
    BreakoutsOpened,
    PresenceLeft,
    SpaceEnded,
    SpaceSnapshot,
)
from signalling.errors import ErrorCode
from signalling.ids import LOBBY, ParticipantId, SpaceId
from signalling.kinds import BreakoutMode, LeaveReason, Role, SpaceKind
from signalling.protocol import (
    BroadcastToBreakouts,
    CloseBreakouts,
    EndSpace,
    JoinSpace,
    OpenBreakouts,
)
from tests.signalling.support import (
    HALL,
    STAGE,
    TEAM_A,
    TEAM_A_ROOM,
    TEAM_B,
    TEAM_B_ROOM,
    Harness,
    error_codes,
    of_type,
)


def hall_with(h: Harness, *attendees: str, teams: dict[str, list[str]] | None = None) -> None:
    h.join("org", Role.ORGANISER)
    h.send("org", JoinSpace(space_id=HALL))
    for pid in attendees:
        h.join(pid, teams=(teams or {}).get(pid, []))
        assert error_codes(h.send(pid, JoinSpace(space_id=HALL))) == []


def p(*names: str) -> tuple[ParticipantId, ...]:
    return tuple(ParticipantId(n) for n in names)


def test_groups_of_n_move_everyone_at_once_and_close_brings_them_back() -> None:
    h = Harness()
    hall_with(h, "a", "b", "c", "d", "e")
    effects = h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.GROUPS, group_size=2))
    opened = of_type(effects, BreakoutsOpened)[0]
    assert opened.rooms == (
        BreakoutRoom(SpaceId("hall~1"), p("a", "d")),
        BreakoutRoom(SpaceId("hall~2"), p("b", "e")),
        BreakoutRoom(SpaceId("hall~3"), p("c")),
    )
    assert h.where("a") == "hall~1" and h.where("e") == "hall~2" and h.where("c") == "hall~3"
    assert h.where("org") == HALL
    snapshots = {s.participant_id: s for s in of_type(effects, SpaceSnapshot)}
    assert snapshots[ParticipantId("a")].reason is LeaveReason.BREAKOUT
    assert h.venue.spaces[SpaceId("hall~1")].kind is SpaceKind.BREAKOUT

    assert error_codes(h.send("c", JoinSpace(space_id=SpaceId("hall~1")))) == [ErrorCode.NOT_ASSIGNED]
    assert error_codes(h.send("org", JoinSpace(space_id=SpaceId("hall~1")))) == []
    again = h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.GROUPS, group_size=2))
    assert error_codes(again) == [ErrorCode.BREAKOUTS_OPEN]

    effects = h.send("org", BroadcastToBreakouts(space_id=HALL, text="5 minutes left"))
    assert of_type(effects, BreakoutBroadcast) == [
        BreakoutBroadcast(HALL, opened_ids(opened), ParticipantId("org"), "5 minutes left")
    ]

    effects = h.send("org", CloseBreakouts(space_id=HALL))
    assert of_type(effects, BreakoutsClosed) == [BreakoutsClosed(HALL, opened_ids(opened))]
    assert set(h.venue.spaces[HALL].occupants) == set(p("org", "a", "b", "c", "d", "e"))
    assert all(room not in h.venue.spaces for room in opened_ids(opened))
    assert h.venue.breakouts == {}
    assert error_codes(h.send("org", CloseBreakouts(space_id=HALL))) == [ErrorCode.NO_BREAKOUTS]


def opened_ids(opened: BreakoutsOpened) -> tuple[SpaceId, ...]:
    return tuple(room.space_id for room in opened.rooms)


def test_manual_groups_leave_unlisted_attendees_at_home() -> None:
    h = Harness()
    hall_with(h, "a", "b", "c")
    plan = (p("c"), p("a"))
    effects = h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.MANUAL, groups=plan))
    assert error_codes(effects) == []
    assert h.where("c") == "hall~1" and h.where("a") == "hall~2" and h.where("b") == HALL


def test_invalid_manual_plans_are_refused_without_change() -> None:
    h = Harness()
    hall_with(h, "a", "b")
    h.join("outsider")
    for plan in ((), (p("a"), p("a")), (p("outsider"),), (p("org"),)):
        effects = h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.MANUAL, groups=plan))
        assert error_codes(effects) == [ErrorCode.INVALID_BREAKOUT_PLAN], plan
    assert h.venue.breakouts == {} and SpaceId("hall~1") not in h.venue.spaces
    effects = h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.GROUPS))
    assert error_codes(effects) == [ErrorCode.INVALID_BREAKOUT_PLAN]


def test_breakouts_need_a_proper_origin_with_attendees() -> None:
    h = Harness()
    hall_with(h)
    cases = [
        (LOBBY, ErrorCode.INVALID_TARGET),
        (SpaceId("nope"), ErrorCode.UNKNOWN_SPACE),
        (HALL, ErrorCode.INVALID_BREAKOUT_PLAN),
    ]
    for space, code in cases:
        effects = h.send("org", OpenBreakouts(space_id=space, mode=BreakoutMode.GROUPS, group_size=2))
        assert error_codes(effects) == [code]


def test_by_team_sends_members_to_their_team_rooms() -> None:
    h = Harness()
    hall_with(h, "a", "b", "c", teams={"a": [TEAM_A], "b": [TEAM_B, TEAM_A]})
    effects = h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.BY_TEAM))
    assert error_codes(effects) == []
    assert h.where("a") == TEAM_A_ROOM and h.where("b") == TEAM_A_ROOM and h.where("c") == HALL
    assert of_type(effects, BreakoutsOpened)[0].rooms == (BreakoutRoom(TEAM_A_ROOM, p("a", "b")),)
    h.send("org", CloseBreakouts(space_id=HALL))
    assert h.where("a") == HALL and h.where("b") == HALL
    assert TEAM_A_ROOM in h.venue.spaces and TEAM_B_ROOM in h.venue.spaces


def test_by_team_respects_team_room_capacity() -> None:
    h = Harness()
    names = ["a", "b", "c", "d", "e"]
    hall_with(h, *names, teams={n: [TEAM_A] for n in names})
    h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.BY_TEAM))
    assert h.venue.spaces[TEAM_A_ROOM].count == 4
    assert h.where("e") == HALL


def test_by_team_without_any_team_room_is_refused() -> None:
    h = Harness()
    hall_with(h, "a")
    effects = h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.BY_TEAM))
    assert error_codes(effects) == [ErrorCode.INVALID_BREAKOUT_PLAN]


def test_ending_the_origin_closes_breakouts_then_everyone_goes_to_the_lobby() -> None:
    h = Harness()
    hall_with(h, "a", "b")
    h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.GROUPS, group_size=1))
    effects = h.send("org", EndSpace(space_id=HALL, reason="done"))
    assert of_type(effects, BreakoutsClosed)
    assert SpaceEnded(HALL, "done") in effects
    assert h.where("a") == LOBBY and h.where("b") == LOBBY and h.where("org") == LOBBY
    assert h.venue.breakouts == {}


def test_participants_who_left_their_breakout_are_not_pulled_back() -> None:
    h = Harness()
    hall_with(h, "a", "b")
    h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.GROUPS, group_size=1))
    h.send("a", JoinSpace(space_id=STAGE))
    effects = h.send("org", CloseBreakouts(space_id=HALL))
    assert h.where("a") == STAGE and h.where("b") == HALL
    assert [e.participant_id for e in of_type(effects, PresenceLeft)] == [ParticipantId("b")]


def test_a_full_origin_sends_returners_to_the_lobby() -> None:
    h = Harness()
    hall_with(h, "a", "b")
    h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.GROUPS, group_size=2))
    for i in range(18):  # the organiser and 18 others leave one seat free
        h.join(f"x{i}")
        h.send(f"x{i}", JoinSpace(space_id=HALL))
    h.send("org", CloseBreakouts(space_id=HALL))
    assert h.venue.spaces[HALL].count == 20
    assert sorted(str(h.where(pid)) for pid in ("a", "b")) == [HALL, LOBBY]


def test_breakouts_from_a_stage_return_attendees_to_the_audience() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    for pid in ("a", "b"):
        h.join(pid)
        h.send(pid, JoinSpace(space_id=STAGE))
    h.send("org", OpenBreakouts(space_id=STAGE, mode=BreakoutMode.GROUPS, group_size=5))
    assert h.where("a") == "main-stage~1"
    h.send("org", CloseBreakouts(space_id=STAGE))
    assert h.where("a") == STAGE
