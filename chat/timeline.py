"""What a client shows: replay pages and live batches merged by id. Pure; the reference for clients.

Items can arrive twice (a live batch and the replay that follows a subscribe overlap) and out of
order (a live batch before the replay page that precedes it); the timeline drops duplicates by
id, keeps messages sorted by id, removes deleted messages and never lets a late copy of a deleted
message back in.

Where to resume is not simply the newest id seen: while a replay is still being paged, live
batches already bring newer ids, and everything between the replay's last page and them is
still missing. So a replay is tracked explicitly: ``begin_replay(after)``, then
``apply_replay(page_items, more)`` for each page (asking for the next page after
``replay_cursor``), and ``resume_id`` is the replay cursor until the replay is complete, the
newest id seen after that.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chat.ids import MessageId
from chat.validation import id_key


def _format(key: tuple[int, int]) -> MessageId:
    return MessageId(f"{key[0]}-{key[1]}")


class Timeline:
    def __init__(self) -> None:
        self._order: list[tuple[int, int]] = []
        self._messages: dict[tuple[int, int], Mapping[str, Any]] = {}
        self._seen: set[tuple[int, int]] = set()
        self._deleted: set[tuple[int, int]] = set()
        self._newest: tuple[int, int] | None = None
        self._replay_cursor: tuple[int, int] | None = None
        self.locked = False
        self._lock_key: tuple[int, int] = (-1, -1)
        self.duplicates_dropped = 0

    # -- what arrives ------------------------------------------------------------------------

    def apply(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Live batch items, or a history page (``join`` without ``last_id``, ``history``)."""
        for item in items:
            self._apply(item)

    def begin_replay(self, after: MessageId) -> None:
        """The client joins with ``last_id=after``; the join's page is the first replay page."""
        self._replay_cursor = id_key(after)

    def apply_replay(self, items: Sequence[Mapping[str, Any]], more: bool) -> None:
        """One replay page (the ``join`` answer, then each ``replay`` answer)."""
        self.apply(items)
        if self._replay_cursor is None:
            raise RuntimeError("begin_replay() first")
        if items:
            self._replay_cursor = max(self._replay_cursor, id_key(MessageId(items[-1]["id"])))
        if not more:
            self._replay_cursor = None

    # -- what the client asks next -----------------------------------------------------------

    def is_replaying(self) -> bool:
        return self._replay_cursor is not None

    @property
    def replay_cursor(self) -> MessageId | None:
        """``after`` for the next ``replay`` request while ``is_replaying()``."""
        return None if self._replay_cursor is None else _format(self._replay_cursor)

    @property
    def resume_id(self) -> MessageId | None:
        """``last_id`` for the next ``join`` after a reconnect (``None``: join without one)."""
        if self._replay_cursor is not None:
            return _format(self._replay_cursor)
        return None if self._newest is None else _format(self._newest)

    # -- what the client shows ---------------------------------------------------------------

    @property
    def newest_id(self) -> MessageId | None:
        return None if self._newest is None else _format(self._newest)

    @property
    def messages(self) -> list[Mapping[str, Any]]:
        return [self._messages[key] for key in self._order]

    @property
    def texts(self) -> list[str]:
        return [str(message["text"]) for message in self.messages]

    def _apply(self, item: Mapping[str, Any]) -> None:
        key = id_key(MessageId(item["id"]))
        if key in self._seen:
            self.duplicates_dropped += 1
            return
        self._seen.add(key)
        if self._newest is None or key > self._newest:
            self._newest = key
        kind = item["type"]
        if kind == "message":
            if key not in self._deleted:
                bisect.insort(self._order, key)
                self._messages[key] = item
        elif kind == "deleted":
            target = id_key(MessageId(item["target_id"]))
            self._deleted.add(target)
            if self._messages.pop(target, None) is not None:
                self._order.remove(target)
        elif kind in ("locked", "unlocked") and key > self._lock_key:
            self._lock_key = key
            self.locked = kind == "locked"
