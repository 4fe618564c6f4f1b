"""Per-channel batching over a window (pure in now_ms)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chat.coalescer import Coalescer


def test_items_within_the_window_make_one_batch() -> None:
    c: Coalescer[str, int] = Coalescer(window_ms=100, max_items=50)
    assert c.next_due_ms() is None
    c.add("a", [1], 1000)
    c.add("b", [10], 1030)
    c.add("a", [2, 3], 1060)
    assert c.next_due_ms() == 1100
    assert c.take_due(1099) == []
    assert c.take_due(1100) == [("a", [1, 2, 3])]
    assert c.next_due_ms() == 1130
    c.add("a", [4], 1120)  # a new batch for a: due after b's
    assert c.take_due(1500) == [("b", [10]), ("a", [4])]
    assert len(c) == 0


def test_a_full_batch_is_due_at_once_and_cut() -> None:
    c: Coalescer[str, int] = Coalescer(window_ms=100, max_items=3)
    c.add("slow", [0], 0)
    c.add("busy", [1, 2], 10)
    assert c.next_due_ms() == 100
    c.add("busy", [3, 4, 5, 6, 7], 20)
    assert c.next_due_ms() == 10
    assert c.take_due(20) == [("busy", [1, 2, 3])]
    assert c.next_due_ms() == 10  # the rest is still overdue
    assert c.take_due(20) == [("busy", [4, 5, 6])]
    assert c.take_due(20) == [("busy", [7])]
    assert c.take_due(100) == [("slow", [0])]


def test_discard_drops_a_channel() -> None:
    c: Coalescer[str, int] = Coalescer(window_ms=10, max_items=2)
    c.add("a", [1, 2], 0)
    c.add("b", [3], 0)
    c.discard("a")
    assert len(c) == 1
    assert c.take_due(100) == [("b", [3])] and len(c) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 40), st.integers(1, 4)),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 80),
    st.integers(1, 5),
)
def test_every_item_comes_out_once_in_order_and_within_the_window(
    steps: list[tuple[str, int, int]], window_ms: int, max_items: int
) -> None:
    c: Coalescer[str, int] = Coalescer(window_ms=window_ms, max_items=max_items)
    sent: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    got: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    added_at: dict[int, int] = {}

    def run_until(now: int) -> None:
        """Drive the coalescer as the flusher does: at every deadline up to ``now``."""
        while (due := c.next_due_ms()) is not None and due <= now:
            for key, batch in c.take_due(due):
                assert 1 <= len(batch) <= max_items
                for item in batch:
                    assert due - added_at[item] <= window_ms
                got[key].extend(batch)

    now = 0
    counter = 0
    for key, gap, n in steps:
        run_until(now + gap)
        now += gap
        items = list(range(counter, counter + n))
        counter += n
        for item in items:
            added_at[item] = now
        c.add(key, items, now)
        sent[key].extend(items)
        assert len(c) == sum(map(len, sent.values())) - sum(map(len, got.values()))
    run_until(now + window_ms)
    assert c.next_due_ms() is None and len(c) == 0
    assert got == sent
