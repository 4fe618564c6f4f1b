"""Attendance from the analytics log: exact, idempotent under replay and duplication."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.attendance import AnalyticsEvent, Attendance, fold
from tests.analytics.scenario import MIN, ev

LOG = [
    ev(1, "arrive", 0, "ada"),
    ev(2, "join", 1, "ada", "hall"),
    ev(3, "arrive", 2, "bob"),
    ev(4, "disconnect", 10, "ada", "hall"),  # ada's network drops...
    ev(5, "reconnect", 12, "ada", "hall"),  # ...and she is back 2 minutes later
    ev(6, "join", 15, "bob", "stage"),
    ev(7, "leave", 20, "ada", "hall"),
    ev(8, "join", 20, "ada", "stage"),
    ev(9, "disconnect", 30, "bob", "stage"),
    ev(10, "depart", 31, "bob"),  # grace ended: bob is gone
    ev(11, "event_ended", 40),
]


def test_online_minutes_leave_out_disconnected_time() -> None:
    totals = fold(LOG)
    assert totals.unique_participants == 2
    assert totals.per_participant_ms == {"ada": 38 * MIN, "bob": 28 * MIN}
    assert totals.participant_ms == 66 * MIN
    assert totals.sessions == 3
    assert totals.per_space_unique == {"hall": 1, "stage": 2}
    # hall: ada 1->10 and 12->20; stage: bob 15->30, ada 20->40
    assert totals.per_space_ms == {"hall": 17 * MIN, "stage": 35 * MIN}


def test_running_time_counts_up_to_now() -> None:
    attendance = Attendance()
    for event in LOG[:3]:
        attendance.apply(event)
    assert attendance.totals(now_ms=5 * MIN).per_participant_ms == {"ada": 5 * MIN, "bob": 3 * MIN}


def test_replaying_or_duplicating_the_log_changes_nothing() -> None:
    once = fold(LOG)
    assert fold(LOG + LOG) == once
    attendance = Attendance()
    assert [attendance.apply(e) for e in LOG + LOG[3:6]].count(False) == 3
    assert attendance.totals() == once


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_duplication_gives_the_same_totals_and_one_count_per_person(data: st.DataObject) -> None:
    people = [f"p{i}" for i in range(data.draw(st.integers(1, 6)))]
    events: list[AnalyticsEvent] = []
    rng = random.Random(data.draw(st.integers(0, 10_000)))
    for minute in range(data.draw(st.integers(1, 40))):
        who = rng.choice(people)
        kind = rng.choice(["arrive", "join", "leave", "disconnect", "reconnect", "depart"])
        events.append(ev(minute + 1, kind, minute, who, rng.choice(["hall", "stage", None])))
    baseline = fold(events)
    noisy = list(events)
    for _ in range(data.draw(st.integers(0, 20))):
        original = events[rng.randrange(len(events))]
        after = noisy.index(original) + 1
        noisy.insert(rng.randrange(after, len(noisy) + 1), original)  # redelivered later
    assert fold(noisy) == baseline
    assert baseline.unique_participants == len({e.participant_id for e in events if e.participant_id})
    assert all(ms >= 0 for ms in baseline.per_participant_ms.values())
