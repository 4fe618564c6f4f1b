"""The per-participant fold: exact against ground truth, order- and duplicate-proof, consent-aware."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.attendance import AnalyticsEvent, ParticipantId, SpaceId, fold, people_of
from analytics.billing import bill_event
from analytics.report import concurrency, live, participants
from analytics.store import sum_contributions
from tests.analytics.scenario import MIN, ev, scenario


@pytest.mark.parametrize("seed", range(8))
def test_online_time_matches_the_ground_truth_and_each_person_counts_once(seed: int) -> None:
    events, truth = scenario(seed)
    totals = fold(events)
    assert totals.per_participant_ms == {p: truth.online_ms.get(p, 0) for p in totals.per_participant_ms}
    assert totals.unique_participants == len({e.participant_id for e in events if e.participant_id})
    chats = {pid: sum(e.chat_messages for e in p.engagement.values()) for pid, p in totals.people.items()}
    assert {p: n for p, n in chats.items() if n} == truth.chat


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 10_000), shuffle=st.integers(0, 10_000), dups=st.integers(0, 40))
def test_any_interleaving_or_duplication_gives_the_same_figures(seed: int, shuffle: int, dups: int) -> None:
    events, _ = scenario(seed, people=4, steps=50)
    rng = random.Random(shuffle)
    noisy = events + [rng.choice(events) for _ in range(dups)]
    rng.shuffle(noisy)
    assert people_of(noisy) == people_of(events)
    assert sum_contributions(people_of(noisy).values()) == sum_contributions(people_of(events).values())
    end = max(e.at_ms for e in events)
    totals = fold(events)
    figures = live(sum_contributions(totals.people.values()), end)
    assert figures["unique_participants"] == totals.unique_participants
    assert figures["participant_minutes"] == round(totals.participant_ms / MIN, 3)
    assert figures["sessions"] == totals.sessions


def test_reconnects_and_space_switches_are_one_person_with_their_sessions() -> None:
    log = [
        ev(1, "arrive", 0, "ada"),
        ev(2, "join", 1, "ada", "hall"),
        ev(3, "disconnect", 5, "ada", "hall"),
        ev(4, "reconnect", 6, "ada", "hall"),
        ev(5, "leave", 8, "ada", "hall"),
        ev(6, "join", 8, "ada", "stage"),
        ev(7, "disconnect", 9, "ada", "stage"),
        ev(8, "depart", 11, "ada"),
        ev(9, "arrive", 20, "ada"),  # came back after the grace period: a new session, same person
        ev(10, "depart", 25, "ada"),
    ]
    totals = fold(log)
    assert totals.unique_participants == 1
    assert totals.sessions == 3
    assert totals.per_participant_ms == {"ada": (5 + 3 + 5) * MIN}
    assert totals.per_space_ms == {"hall": (4 + 2) * MIN, "stage": 1 * MIN}
    sessions = totals.people[ParticipantId("ada")].sessions
    assert [(s.opened_by, s.closed_by) for s in sessions] == [
        ("1-0:0", "3-0:0"),
        ("4-0:0", "7-0:0"),
        ("9-0:0", "10-0:0"),
    ]


def test_a_participant_who_declined_analytics_is_billed_but_not_profiled() -> None:
    shy = [
        AnalyticsEvent("1-0:0", "arrive", 0, ParticipantId("shy"), profiling=False),
        AnalyticsEvent("2-0:0", "join", MIN, ParticipantId("shy"), SpaceId("hall"), profiling=False),
        AnalyticsEvent(
            "3-0:0", "chat_message", 2 * MIN, ParticipantId("shy"), SpaceId("hall"), profiling=False
        ),
        AnalyticsEvent("4-0:0", "reaction", 3 * MIN, ParticipantId("shy"), SpaceId("hall"), profiling=False),
    ]
    open_ = [
        ev(5, "arrive", 0, "ada"),
        ev(6, "join", 1, "ada", "hall"),
        ev(7, "chat_message", 2, "ada", "hall"),
        ev(8, "hand_raised", 3, "ada", "hall"),
        ev(9, "speaking_started", 4, "ada", "hall"),
        ev(10, "speaking_stopped", 6, "ada", "hall"),
    ]
    people = people_of(shy + open_)
    figures = live(sum_contributions(people.values()), 10 * MIN)
    assert figures["unique_participants"] == 2
    assert figures["participants_not_profiled"] == 1
    assert figures["engagement"] == {
        "chat_messages": 1,
        "reactions": 0,
        "hands_raised": 1,
        "speaking_minutes": 2.0,
        "stage_minutes": 0.0,
    }
    assert [p["participant_id"] for p in participants(people, 10 * MIN)] == ["ada"]
    bill = bill_event("e", people, 0, 10 * MIN, 10 * MIN)
    assert bill.unique_participants == 2 and bill.participant_ms == 20 * MIN


def test_stage_time_pauses_while_disconnected_and_speaking_stops_on_leave() -> None:
    log = [
        ev(1, "arrive", 0, "sam"),
        ev(2, "join", 0, "sam", "stage"),
        ev(3, "go_live", 1, "sam", "stage"),
        ev(4, "speaking_started", 2, "sam", "stage"),
        ev(5, "disconnect", 4, "sam", "stage"),
        ev(6, "reconnect", 5, "sam", "stage"),
        ev(7, "backstage", 7, "sam", "stage"),
        ev(8, "go_live", 8, "sam", "stage"),
        ev(9, "speaking_started", 8, "sam", "stage"),
        ev(10, "leave", 10, "sam", "stage"),
    ]
    sam = people_of(log)[ParticipantId("sam")]
    stage = sam.engagement["stage"]
    assert stage.stage.at(20 * MIN) == (3 + 2 + 2) * MIN
    assert stage.speaking.at(20 * MIN) == (2 + 2) * MIN


def test_a_leave_dated_back_to_the_last_heartbeat_closes_the_session_then() -> None:
    # the reaper logged the disconnect after an organiser moved the participant, dated earlier
    log = [
        ev(1, "arrive", 0, "kim"),
        ev(2, "join", 1, "kim", "hall"),
        ev(4, "join", 12, "kim", "stage"),  # moved while their instance was already dead
        AnalyticsEvent("5-0:0", "disconnect", 10 * MIN, ParticipantId("kim"), SpaceId("stage")),
        ev(6, "depart", 40, "kim"),
    ]
    totals = fold(log)
    assert totals.per_participant_ms == {"kim": 10 * MIN}
    # space time is exact up to the last move before the reaper logged the leave
    assert totals.per_space_ms == {"hall": 11 * MIN, "stage": 0}


def test_billing_clips_sessions_to_the_period_and_traces_them() -> None:
    log = [ev(1, "arrive", 0, "ada"), ev(2, "disconnect", 50, "ada"), ev(3, "arrive", 5, "bob")]
    people = people_of(log)
    bill = bill_event("e", people, 10 * MIN, 30 * MIN, 60 * MIN)
    assert bill.unique_participants == 2 and bill.participant_ms == 40 * MIN
    ada = bill.participants[0]
    assert (ada.sessions[0].start_ms, ada.sessions[0].end_ms, ada.sessions[0].opened_by) == (
        10 * MIN,
        30 * MIN,
        "1-0:0",
    )
    assert bill_event("e", people, 55 * MIN, 58 * MIN, 60 * MIN).unique_participants == 1  # bob still on


def test_concurrency_over_time_is_the_peak_per_minute() -> None:
    log = [
        ev(1, "arrive", 0, "a"),
        ev(2, "arrive", 0.5, "b"),
        ev(3, "disconnect", 1.5, "a"),
        ev(4, "arrive", 2.2, "c"),
        ev(5, "disconnect", 3, "b"),
        ev(6, "disconnect", 3, "c"),
    ]
    points = concurrency(people_of(log), 3 * MIN)
    assert [p["participants"] for p in points] == [2, 2, 2, 0]
