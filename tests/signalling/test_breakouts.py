"""Pure breakout planning."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from signalling.breakouts import assign_by_team, breakout_room_id, check_manual_groups, split_into_groups
from signalling.errors import ErrorCode
from signalling.ids import ParticipantId, SpaceId, TeamId


def pids(*names: str) -> list[ParticipantId]:
    return [ParticipantId(n) for n in names]


def test_groups_of_n_are_balanced() -> None:
    assert split_into_groups(pids("a", "b", "c", "d", "e"), 2) == [pids("a", "d"), pids("b", "e"), pids("c")]
    assert split_into_groups(pids("a", "b", "c", "d", "e", "f", "g"), 3) == [
        pids("a", "d", "g"),
        pids("b", "e"),
        pids("c", "f"),
    ]
    assert split_into_groups([], 3) == []


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.integers(1, 10))
def test_groups_cover_everyone_once_within_size(count: int, size: int) -> None:
    people = [ParticipantId(f"p{i}") for i in range(count)]
    groups = split_into_groups(people, size)
    assert sorted(p for g in groups for p in g) == sorted(people)
    assert all(1 <= len(g) <= size for g in groups)
    if groups:
        assert max(map(len, groups)) - min(map(len, groups)) <= 1


def test_manual_plans_are_checked() -> None:
    eligible = frozenset(pids("a", "b"))
    assert check_manual_groups([pids("a"), pids("b")], eligible) is None
    for plan in ([], [pids("a", "a")], [pids("a"), pids("a")], [pids("z")]):
        error = check_manual_groups(plan, eligible)
        assert error is not None and error.code is ErrorCode.INVALID_BREAKOUT_PLAN


def test_by_team_uses_the_first_team_with_a_room() -> None:
    teams = {
        ParticipantId("a"): frozenset({TeamId("t2"), TeamId("t1")}),
        ParticipantId("b"): frozenset({TeamId("t3")}),
        ParticipantId("c"): frozenset[TeamId](),
    }
    rooms = {TeamId("t1"): SpaceId("r1"), TeamId("t2"): SpaceId("r2")}
    assert assign_by_team(pids("a", "b", "c"), teams, rooms) == {ParticipantId("a"): SpaceId("r1")}


def test_breakout_room_ids_are_derived_from_the_origin() -> None:
    assert breakout_room_id(SpaceId("hall"), 3) == "hall~3"
