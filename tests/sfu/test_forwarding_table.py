"""The forwarding table: tracks, subscriptions and their invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.forwarding import ForwardingError, ForwardingTable


def test_subscribe_and_targets() -> None:
    t: ForwardingTable[str] = ForwardingTable()
    t.add_track("alice/v", "alice", "video")
    t.subscribe("bob", "alice/v", "bob-down")
    t.subscribe("carol", "alice/v", "carol-down")
    assert t.targets("alice/v") == ("bob-down", "carol-down")
    assert t.subscriptions_of("bob") == {"alice/v"}
    assert t.unsubscribe("bob", "alice/v") == "bob-down"
    assert t.targets("alice/v") == ("carol-down",)
    assert t.targets("nope") == ()
    t.check_invariants()


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (lambda t: t.add_track("alice/v", "alice", "video"), "track_exists"),
        (lambda t: t.subscribe("alice", "alice/v", "x"), "own_track"),
        (lambda t: t.subscribe("bob", "ghost", "x"), "unknown_track"),
        (lambda t: t.unsubscribe("bob", "alice/v"), "not_subscribed"),
        (lambda t: t.subscription("bob", "alice/v"), "not_subscribed"),
    ],
)
def test_refusals_carry_codes(action, code: str) -> None:  # type: ignore[no-untyped-def]
    t: ForwardingTable[str] = ForwardingTable()
    t.add_track("alice/v", "alice", "video")
    with pytest.raises(ForwardingError) as exc:
        action(t)
    assert exc.value.code == code
    t.check_invariants()


def test_double_subscribe_refused() -> None:
    t: ForwardingTable[str] = ForwardingTable()
    t.add_track("a/v", "a", "video")
    t.subscribe("b", "a/v", "d1")
    with pytest.raises(ForwardingError) as exc:
        t.subscribe("b", "a/v", "d2")
    assert exc.value.code == "already_subscribed"


def test_removing_a_publisher_removes_dependent_subscriptions() -> None:
    t: ForwardingTable[str] = ForwardingTable()
    t.add_track("a/v", "a", "video")
    t.add_track("a/a", "a", "audio")
    t.add_track("b/v", "b", "video")
    t.subscribe("b", "a/v", "b<-a/v")
    t.subscribe("c", "a/a", "c<-a/a")
    t.subscribe("a", "b/v", "a<-b/v")
    removed, own = t.remove_participant("a")
    assert removed == {"a/a": {"c": "c<-a/a"}, "a/v": {"b": "b<-a/v"}}
    assert own == {"b/v": "a<-b/v"}
    assert t.subscribers() == frozenset()
    assert t.publishers() == {"b"}
    assert t.targets("b/v") == ()
    t.check_invariants()


ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "sub", "unsub", "leave"]),
        st.sampled_from(["p1", "p2", "p3", "p4"]),
        st.sampled_from(["p1", "p2", "p3", "p4"]),
        st.integers(0, 2),
    ),
    max_size=80,
)


@settings(deadline=None, max_examples=200)
@given(ops)
def test_invariants_hold_under_any_sequence(sequence: list[tuple[str, str, str, int]]) -> None:
    t: ForwardingTable[tuple[str, str]] = ForwardingTable()
    for op, a, b, n in sequence:
        track = f"{a}/{n}"
        try:
            if op == "add":
                t.add_track(track, a, "audio")
            elif op == "remove":
                t.remove_track(track)
            elif op == "sub":
                t.subscribe(b, track, (b, track))
            elif op == "unsub":
                t.unsubscribe(b, track)
            else:
                t.remove_participant(a)
        except ForwardingError:
            pass
        t.check_invariants()
        for entry in t.tracks():
            for down in entry.subscriptions.values():
                assert down[1] == entry.track_id
