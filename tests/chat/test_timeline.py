"""The client-side merge of replay pages and live batches (pure)."""

from __future__ import annotations

from typing import Any

from chat.ids import MessageId
from chat.timeline import Timeline


def msg(ms: int, text: str) -> dict[str, Any]:
    return {"type": "message", "id": f"{ms}-0", "text": text}


def test_out_of_order_and_duplicate_items_merge_by_id() -> None:
    timeline = Timeline()
    timeline.apply([msg(3, "c"), msg(4, "d")])  # a live batch first
    timeline.apply([msg(1, "a"), msg(2, "b"), msg(3, "c")])  # then the replay that overlaps it
    assert timeline.texts == ["a", "b", "c", "d"]
    assert timeline.duplicates_dropped == 1
    assert timeline.resume_id == "4-0"


def test_deletion_removes_and_keeps_a_late_copy_out() -> None:
    timeline = Timeline()
    timeline.apply([msg(1, "a"), {"type": "deleted", "id": "5-0", "target_id": "2-0", "by": "org"}])
    timeline.apply([msg(2, "bad")])  # the replay still had it
    assert timeline.texts == ["a"]
    timeline.apply([{"type": "deleted", "id": "6-0", "target_id": "1-0", "by": "org"}])
    assert timeline.texts == [] and timeline.resume_id == "6-0"


def test_lock_state_follows_the_newest_change() -> None:
    timeline = Timeline()
    timeline.apply([{"type": "unlocked", "id": "9-0", "by": "o"}, {"type": "locked", "id": "8-0", "by": "o"}])
    assert not timeline.locked
    timeline.apply([{"type": "locked", "id": "10-0", "by": "o"}])
    assert timeline.locked


def test_resume_point_stays_at_the_replay_cursor_until_the_replay_is_complete() -> None:
    timeline = Timeline()
    assert Timeline().resume_id is None
    timeline.apply([msg(1, "a")])
    timeline.begin_replay(MessageId("1-0"))
    timeline.apply_replay([msg(2, "b"), msg(3, "c")], more=True)
    timeline.apply([msg(9, "live")])  # a live batch overtakes the replay
    assert timeline.newest_id == "9-0"
    assert timeline.is_replaying()
    assert (timeline.resume_id, timeline.replay_cursor) == ("3-0", "3-0")
    timeline.apply_replay([msg(4, "d")], more=True)
    timeline.apply_replay([], more=False)
    assert not timeline.is_replaying()
    assert (timeline.resume_id, timeline.replay_cursor) == ("9-0", None)
    assert timeline.texts == ["a", "b", "c", "d", "live"]
